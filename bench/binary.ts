/**
 * The one binary: its size raw and compressed, and the cold start and peak RSS of its
 * personalities. Usage: bun bench/binary.ts [--runs N] [--no-compress]
 * Writes bench/results/binary.md.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { median, root, timeCommand, writeResults } from "./lib.ts";

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf("--runs") + 1] ?? 0) || 30;
const bin = resolve(root, "out/bunker");
if (!existsSync(bin)) throw new Error("out/bunker is missing: run `node_modules/.bin/bun scripts/build.ts`");

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
const lines: string[] = ["| what | figure |", "|---|---|"];
lines.push(`| binary, raw | ${mb(Bun.file(bin).size)} |`);

if (!args.includes("--no-compress")) {
  for (const [name, cmd] of [["xz -9", ["xz", "-9", "-T2", "-c", bin]], ["zstd -19", ["zstd", "-19", "-T2", "-c", bin]]] as const) {
    const r = Bun.spawnSync([...cmd], { stdout: "pipe", stderr: "ignore" });
    lines.push(`| binary, ${name} | ${mb(r.stdout.byteLength)} |`);
  }
}

const tmp = mkdtempSync(join(tmpdir(), "bunker-bench-"));
const cases: [string, string[]][] = [
  ["bunker --help", [bin, "--help"]],
  ["bunker version", [bin, "version"]],
];
// Commands that exist only once their personality is built in; measured when present.
const sample = resolve(root, "core/config/testdata/controlplane.yaml");
if (existsSync(sample)) cases.push(["bunkerctl validate -f controlplane.yaml", [bin, "bunkerctl", "validate", "-f", sample]]);
else {
  const cfg = join(tmp, "c.yaml");
  writeFileSync(cfg, "version: v1alpha1\n");
  cases.push(["bunkerctl validate (tiny config)", [bin, "bunkerctl", "validate", "-f", cfg]]);
}

lines.push("", `Cold start over ${runs} runs (median wall time; peak RSS of the largest run):`, "", "| command | median | peak RSS |", "|---|---|---|");
for (const [name, argv] of cases) {
  timeCommand(argv, 2); // warm the page cache: we measure start-up, not disk reads
  const r = timeCommand(argv, runs);
  lines.push(`| \`${name}\` | ${median(r.ms).toFixed(1)} ms | ${(r.peakRssBytes / 1e6).toFixed(1)} MB |`);
}
rmSync(tmp, { recursive: true, force: true });
lines.push("", "Budget (DESIGN.md): personality cold start <= 50 ms.");
writeResults("binary", "The one binary: size, cold start, peak RSS", lines);
