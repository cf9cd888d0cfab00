/**
 * Crash safety of the two writes a node makes to its disk, on the host: a writer process is
 * killed with SIGKILL at a random moment while it writes, round after round, and the value read
 * afterwards must be whole: the last one it finished, or the one it was writing, never a mix
 * and never an error.
 *   meta:  core/meta updateMeta on the META partition of a 2 GiB image file (raw writes + fsync)
 *   state: init's config write (writeAtomic: temp file, fsync, rename) onto STATE, ext4 on a loop
 *          device (root only; skipped otherwise)
 * A killed process loses what it had not handed to the kernel, not the page cache: this checks
 * the order of writes against a crash of the writer. The power cut is bench/crash-qemu.ts: QEMU
 * killed while its guest writes both (--qemu-rounds N, default 20; 0 skips it).
 * Usage: bun bench/crash.ts [--rounds N] [--qemu-rounds N]. Writes bench/results/crash.md.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDisk } from "../core/gpt/device.ts";
import { applyLayout } from "../core/disklayout/apply.ts";
import { Label, plan } from "../core/disklayout/plan.ts";
import { extent, findVolume, metaLocation } from "../core/disklayout/volumes.ts";
import { Tag } from "../core/meta/block.ts";
import { getText, readMeta, setText, updateMeta } from "../core/meta/store.ts";
import { tableOf } from "../core/install/slots.ts";
import { writeAtomic } from "../core/fileio/atomic.ts";
import { haveQemu } from "../test/qemu/runner.ts";
import { qemuRounds } from "./crash-qemu.ts";
import { writeResults } from "./lib.ts";

const args = process.argv.slice(2);
const value = (k: number) => `value-${k}-` + "x".repeat(3000 + (k % 7) * 1000);

if (args[0] === "--child") {
  // The writer: writes value-1, value-2, ... forever, saying "done k" after each whole write.
  const [, kind, target, start] = args;
  const dev = kind === "meta" ? openDisk(target!, { write: true }) : null;
  for (let k = Number(start); ; k++) {
    if (dev) updateMeta(metaLocation(dev, tableOf(dev)), (v) => setText(v, Tag.UserReserved1, value(k)));
    else writeAtomic(target!, value(k));
    writeSync(1, `done ${k}\n`);
  }
}

const rounds = Number(args[args.indexOf("--rounds") + 1]) || 30;
const qemuRoundCount = args.includes("--qemu-rounds") ? Number(args[args.indexOf("--qemu-rounds") + 1]) : 20;
const tmp = mkdtempSync(join(tmpdir(), "bunker-bench-crash-"));
const img = join(tmp, "disk.img");
writeFileSync(img, "");
truncateSync(img, 2 * 2 ** 30);
{
  const dev = openDisk(img, { write: true });
  applyLayout(dev, plan(dev.size), { wipe: false });
  dev.close();
}

interface Outcome { round: number; killedAfterMs: number; lastDone: number; writes: number; read: string }

/** Runs the writer, kills it after a random 20-300 ms, returns what it had finished. */
/** The writer starts at `last + 1`, so "old" is `last` when it finishes nothing before the kill. */
async function killRound(kind: string, target: string, last: number): Promise<{ lastDone: number; writes: number; ms: number }> {
  const ms = 20 + Math.floor(Math.random() * 280);
  const p = Bun.spawn([process.execPath, import.meta.path, "--child", kind, target, String(last + 1)], { stdout: "pipe", stderr: "inherit" });
  const out = new Response(p.stdout).text();
  await Bun.sleep(ms);
  p.kill("SIGKILL");
  await p.exited;
  const done = [...(await out).matchAll(/done (\d+)/g)].map((m) => Number(m[1]));
  return { lastDone: done.at(-1) ?? last, writes: done.length, ms };
}

/** Names the outcome of one read against the last write the writer finished. */
function classify(got: string | undefined, lastDone: number): string {
  if (got === undefined) return lastDone === 0 ? "old (nothing written yet)" : "BROKEN (value missing)";
  const m = got.match(/^value-(\d+)-/);
  if (!m || got !== value(Number(m[1]))) return "BROKEN (torn value)";
  const k = Number(m[1]);
  if (k === lastDone) return "old (last finished write)";
  if (k === lastDone + 1) return "new (the write in flight had landed)";
  return `BROKEN (value ${k}, last finished ${lastDone})`;
}

const results: Record<string, Outcome[]> = { meta: [], state: [] };
const metaCopies: Record<string, number> = {};
const numberOf = (v: string | undefined) => Number(v?.match(/^value-(\d+)-/)?.[1] ?? 0);
let last = 0;
for (let r = 1; r <= rounds; r++) {
  const { lastDone, writes, ms } = await killRound("meta", img, last);
  const dev = openDisk(img);
  const m = readMeta(metaLocation(dev, tableOf(dev)));
  dev.close();
  const got = m.ok ? getText(m.values, Tag.UserReserved1) : undefined;
  const read = m.ok ? classify(got, lastDone) : `BROKEN (${m.error})`;
  last = Math.max(lastDone, numberOf(got));
  if (m.ok) {
    const how = m.problems.length ? `copy ${m.copy}, other copy ${m.problems[0]!.includes("differs") ? "older" : "torn"}` : `copy ${m.copy}, copies equal`;
    metaCopies[how] = (metaCopies[how] ?? 0) + 1;
  }
  results.meta!.push({ round: r, killedAfterMs: ms, lastDone, writes, read });
}

let stateNote = "";
if (process.getuid?.() === 0) {
  const dev = openDisk(img);
  const { offset, size } = extent(tableOf(dev), findVolume(tableOf(dev), Label.STATE));
  dev.close();
  const loop = Bun.spawnSync(["losetup", "-f", "--show", "-o", String(offset), "--sizelimit", String(size), img]).stdout.toString().trim();
  const mnt = join(tmp, "state");
  mkdirSync(mnt);
  try {
    if (Bun.spawnSync(["mount", "-t", "ext4", loop, mnt]).exitCode !== 0) throw new Error(`mount ${loop} failed`);
    const file = join(mnt, "config.yaml");
    last = 0;
    for (let r = 1; r <= rounds; r++) {
      const { lastDone, writes, ms } = await killRound("state", file, last);
      let got: string | undefined;
      try { got = readFileSync(file, "utf8"); } catch { got = undefined; }
      last = Math.max(lastDone, numberOf(got));
      results.state!.push({ round: r, killedAfterMs: ms, lastDone, writes, read: classify(got, lastDone) });
    }
  } finally {
    Bun.spawnSync(["umount", mnt]);
    Bun.spawnSync(["losetup", "-d", loop]);
  }
  const fsck = Bun.spawnSync(["e2fsck", "-fn", `${img}?offset=${offset}`]);
  stateNote = `e2fsck -fn of STATE afterwards: exit ${fsck.exitCode}`;
} else stateNote = "STATE rounds skipped: mounting the loop device needs root";
rmSync(tmp, { recursive: true, force: true });

const lines: string[] = [
  `Command: \`bun bench/crash.ts --rounds ${rounds} --qemu-rounds ${qemuRoundCount}\`. Expected everywhere: every read is whole, old or new.`,
  "",
];
let qemuBroken = 0;
if (qemuRoundCount > 0 && haveQemu()) {
  const q = await qemuRounds(qemuRoundCount, (s) => console.error(s));
  qemuBroken = q.broken;
  lines.push(`## Power cut: QEMU killed while the guest writes (${qemuRoundCount} rounds)`, "",
    "The guest's PID 1 (test/qemu/fixtures/disk-writer.ts) writes META (core/meta updateMeta) and then",
    "STATE's config.yaml (init's writeAtomic on the mounted ext4) in a loop and prints `done K` after",
    "each pair; QEMU is killed 0.2-3 s into the loop; the next boot of the same disk reads both.",
    "\"acknowledged\" is the last `done K` the console showed before the kill.", "", ...q.lines);
}
lines.push("## Process crash on the host (writer killed with SIGKILL 20-300 ms after it starts)", "",
  "A killed process loses nothing it handed to the kernel (the page cache stays): this checks the",
  "order of the writes against a crash of the writer, not a power cut.", "");
for (const [kind, list] of Object.entries(results)) {
  if (list.length === 0) continue;
  const counts: Record<string, number> = {};
  for (const o of list) counts[o.read] = (counts[o.read] ?? 0) + 1;
  const writes = list.reduce((s, o) => s + o.writes, 0);
  lines.push(`### ${kind === "meta" ? "META (core/meta updateMeta, two copies)" : "STATE config (init writeAtomic on ext4)"}`, "",
    `${list.length} rounds, ${writes} whole writes finished before the kills.`, "", "| outcome | rounds |", "|---|---|",
    ...Object.entries(counts).map(([k, n]) => `| ${k} | ${n} |`), "");
  if (kind === "meta") lines.push("Which copy the read used (\"older\": the kill fell between the two copies' writes; a SIGKILL does not tear a single write, a power cut can, which core/meta/store.test.ts covers by cutting writes):", "", "| read | rounds |", "|---|---|", ...Object.entries(metaCopies).map(([k, n]) => `| ${k} | ${n} |`), "");
}
lines.push(stateNote);
const broken = [...results.meta!, ...results.state!].filter((o) => o.read.startsWith("BROKEN"));
lines.push("", broken.length + qemuBroken === 0 ? "No round read a broken value." : `BROKEN rounds: ${qemuBroken} in QEMU; ${broken.map((o) => JSON.stringify(o)).join("; ")}`);
writeResults("crash", "Crash safety of META and STATE config writes", lines);
process.exit(broken.length + qemuBroken === 0 ? 0 : 1);
