/**
 * The disk layout on a 10 GiB sparse image file: time to plan, write and verify the GPT (our own
 * code), to repair a corrupt primary, and to apply the whole layout with its filesystems (mkfs).
 * Usage: bun bench/gpt.ts [--runs N] [--format-runs N]
 * Writes bench/results/gpt.md.
 */
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDisk } from "../core/gpt/device.ts";
import { readGpt, repairGpt, writeGpt } from "../core/gpt/disk.ts";
import { plan } from "../core/disklayout/plan.ts";
import { applyLayout } from "../core/disklayout/apply.ts";
import { median, percentile, writeResults } from "./lib.ts";

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) || dflt : dflt);
const runs = opt("--runs", 30);
const formatRuns = opt("--format-runs", 3);
const SIZE = 10 * 2 ** 30;

const tmp = mkdtempSync(join(tmpdir(), "bunker-bench-gpt-"));
const img = join(tmp, "disk.img");
function freshImage() {
  writeFileSync(img, "");
  truncateSync(img, SIZE);
}
function timeIt(n: number, before: () => void, f: () => void): number[] {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    before();
    const t0 = performance.now();
    f();
    ms.push(performance.now() - t0);
  }
  return ms;
}
const fmt = (ms: number[]) => `${median(ms).toFixed(2)} ms | ${percentile(ms, 90).toFixed(2)} ms`;

try {
  const rows: [string, number[]][] = [];
  rows.push(["plan(10 GiB)", timeIt(runs, () => {}, () => plan(SIZE))]);

  const p = plan(SIZE);
  rows.push(["write GPT (MBR, both headers and entry arrays, 2 fsyncs) + read back both copies and check CRCs", timeIt(runs, freshImage, () => {
    const d = openDisk(img, { write: true });
    writeGpt(d, p.table);
    const s = readGpt(d);
    d.close();
    if (s.problems.length) throw new Error(s.problems.join("; "));
  })]);

  rows.push(["readGpt alone (both copies)", timeIt(runs, () => {}, () => {
    const d = openDisk(img);
    readGpt(d);
    d.close();
  })]);

  rows.push(["repair a corrupt primary header from the backup", timeIt(runs, () => {
    const d = openDisk(img, { write: true });
    d.write(512 + 40, new Uint8Array([0xff]));
    d.close();
  }, () => {
    const d = openDisk(img, { write: true });
    const r = repairGpt(d);
    d.close();
    if (!r.repaired) throw new Error("nothing repaired");
  })]);

  const sg = timeIt(Math.min(runs, 10), () => {}, () => {
    const r = Bun.spawnSync(["sgdisk", "-v", img], { stdout: "pipe", stderr: "pipe" });
    if (!r.stdout.toString().includes("No problems found")) throw new Error("sgdisk -v found problems");
  });
  rows.push(["for comparison: `sgdisk -v` on the same image (process start included)", sg]);

  const steps = new Map<string, number[]>();
  const total = timeIt(formatRuns, freshImage, () => {
    const d = openDisk(img, { write: true });
    let last = performance.now();
    let name = "";
    applyLayout(d, p, {
      wipe: false,
      progress: (s) => {
        const now = performance.now();
        if (name) steps.set(name, [...(steps.get(name) ?? []), now - last]);
        name = s.replace(/ on .*\.img$/, "").replace(/ \(.*\)$/, "").replace(/^writing the partition table.*/, "write GPT");
        last = now;
      },
    });
    steps.set(name, [...(steps.get(name) ?? []), performance.now() - last]);
    d.close();
  });

  const fsType = Bun.spawnSync(["stat", "-f", "-c", "%T", tmpdir()]).stdout.toString().trim();
  const lines = [
    `Image: a ${SIZE / 2 ** 30} GiB sparse file in ${tmpdir()} (${fsType}) (the layout of \`plan()\`: EFI, BIOS, BOOT-A, BOOT-B, META, STATE, EPHEMERAL ${(p.volumes[6]!.size / 2 ** 30).toFixed(1)} GiB), 512-byte sectors.`,
    "",
    `GPT only, ${runs} runs each:`, "",
    "| operation | median | p90 |", "|---|---|---|",
    ...rows.map(([k, v]) => `| ${k} | ${fmt(v)} |`),
    "",
    `Whole layout with filesystems (\`applyLayout\`: clear old signatures, write GPT, mkfs.fat + 4x mke2fs), ${formatRuns} runs:`, "",
    "| step | median | p90 |", "|---|---|---|",
    ...[...steps].map(([k, v]) => `| ${k} | ${fmt(v)} |`),
    `| **total** | ${fmt(total)} |`,
    "",
    "The GPT write includes two fsyncs (backup, then primary) so a torn write always leaves one intact copy.",
  ];
  writeResults("gpt", "GPT and disk layout on a 10 GiB sparse image", lines);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
