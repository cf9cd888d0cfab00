/**
 * The config loader: cold start and peak RSS of `bunker bunkerctl validate -f FILE` (the whole
 * binary starting, loading and checking one config), and the loader's warm cost in-process.
 * Usage: bun bench/config.ts [--runs N]   Writes bench/results/config.md.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { loadConfig } from "../core/config/config.ts";
import { median, percentile, root, timeCommand, writeResults } from "./lib.ts";

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf("--runs") + 1] ?? 0) || 20;
const bin = resolve(root, "out/bunker");
if (!existsSync(bin)) throw new Error("out/bunker is missing: run `node_modules/.bin/bun scripts/build.ts`");

const sample = resolve(root, "core/config/testdata/controlplane.yaml");
const tmp = mkdtempSync(join(tmpdir(), "bunker-bench-config-"));
const invalid = join(tmp, "invalid.yaml");
writeFileSync(invalid, readFileSync(sample, "utf8").replace("mtu: 1500", 'mtu: "1500"').replace("type: controlplane", "type: boss"));

const lines: string[] = [
  `Cold start over ${runs} runs (median and p90 wall time; peak RSS of the largest run):`, "",
  "| command | median | p90 | peak RSS |", "|---|---|---|---|",
];
const cases: [string, string[]][] = [
  ["bunker --help (baseline: start-up only)", [bin, "--help"]],
  [`bunkerctl validate -f controlplane.yaml (valid, ${readFileSync(sample, "utf8").split("\n").length - 1} lines)`, [bin, "bunkerctl", "validate", "-f", sample]],
  ["bunkerctl validate -f invalid.yaml (2 errors)", [bin, "bunkerctl", "validate", "-f", invalid]],
];
for (const [name, argv] of cases) {
  timeCommand(argv, 2); // warm the page cache: we measure start-up, not disk reads
  const r = timeCommand(argv, runs);
  lines.push(`| \`${name}\` | ${median(r.ms).toFixed(1)} ms | ${percentile(r.ms, 90).toFixed(1)} ms | ${(r.peakRssBytes / 1e6).toFixed(1)} MB |`);
}
rmSync(tmp, { recursive: true, force: true });

// In-process, after warm-up: what the API pays per apply-config or dry-run.
const text = readFileSync(sample, "utf8");
for (let i = 0; i < 50; i++) loadConfig(text);
const ms: number[] = [];
for (let i = 0; i < 300; i++) {
  const t0 = performance.now();
  loadConfig(text);
  ms.push(performance.now() - t0);
}
lines.push("", `Warm, in-process \`loadConfig\` of the controlplane sample (${text.length} bytes), 300 runs after 50 of warm-up:`,
  "", `median ${median(ms).toFixed(2)} ms, p90 ${percentile(ms, 90).toFixed(2)} ms.`);
lines.push("", "Peak RSS: one more run under GNU time (`/usr/bin/time -f %M`).",
  "", "Budget (DESIGN.md): personality cold start <= 50 ms.");
writeResults("config", "Config validation: cold start, peak RSS, warm cost", lines);
