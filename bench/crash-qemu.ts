/**
 * The QEMU half of bench/crash.ts: a VM whose PID 1 (test/qemu/fixtures/disk-writer.ts) writes
 * META and the STATE config in a loop is killed (SIGKILL of QEMU: the guest's power cut) at a
 * random moment; the next boot of the same disk reports what it reads, which must be a whole
 * value, old or new, never torn or unreadable. QEMU's default cache mode (writeback): what the
 * guest flushed reached the host file; what it had not flushed is lost, as on a power cut.
 */
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDisk } from "../core/gpt/device.ts";
import { applyLayout } from "../core/disklayout/apply.ts";
import { plan } from "../core/disklayout/plan.ts";
import { fixtureBinary, testImage } from "../test/image/fixture.ts";
import { withQemu } from "../test/qemu/runner.ts";

export interface QemuRound { round: number; acknowledged: number; meta: string; state: string }

/** Classifies what a boot read, against the last value the killed boot acknowledged ("done K"). */
function verdict(read: string, ack: number): string {
  const m = read.match(/^value-(\d+)(?: copy=(\d))?$/);
  if (read === "none") return ack === 0 ? "old (nothing written yet)" : "BROKEN (value missing)";
  if (!m) return `BROKEN (${read})`;
  const k = Number(m[1]);
  const copy = m[2] ? `, copy ${m[2]}` : "";
  if (k === ack) return `old or acknowledged (last done)${copy}`;
  if (k === ack + 1) return `new (the write in flight)${copy}`;
  if (k < ack) return `older than acknowledged (${ack - k} behind)${copy}`;
  return `BROKEN (value ${k} after done ${ack})`;
}

export async function qemuRounds(rounds: number, say: (s: string) => void): Promise<{ lines: string[]; broken: number }> {
  const work = mkdtempSync(join(tmpdir(), "bunker-crash-qemu-"));
  try {
    const image = await testImage(join(work, "image"), await fixtureBinary("disk-writer"), { iso: false });
    const disk = join(work, "disk.img");
    writeFileSync(disk, "");
    truncateSync(disk, 2 * 2 ** 30);
    const dev = openDisk(disk, { write: true });
    try { applyLayout(dev, plan(dev.size), { wipe: false }); } finally { dev.close(); }
    const out: QemuRound[] = [];
    let ack = 0;
    // Boot rounds+1 times: each boot reads what the previous (killed) one left, then is killed itself
    // 0.2-3 s after it started writing.
    for (let r = 0; r <= rounds; r++) {
      const killAfter = 200 + Math.floor(Math.random() * 2800);
      const res = await withQemu({ kernel: join(image, "vmlinuz"), initrd: join(image, "initramfs.zst"), append: "console=ttyS0,115200", extraArgs: ["-drive", `file=${disk},format=raw,if=virtio`] }, async (q) => {
        await q.waitFor("[disk-writer] WRITING", 150_000);
        const meta = q.find("READ meta=")!.text.split("READ meta=")[1]!;
        const state = q.find("READ state=")!.text.split("READ state=")[1]!;
        if (r < rounds) await Bun.sleep(killAfter);
        q.kill();
        await q.exited;
        const dones = q.lines.map((l) => l.text.match(/\[disk-writer\] done (\d+)/)?.[1]).filter((x) => x !== undefined).map(Number);
        return { meta, state, lastDone: dones.at(-1) };
      });
      if (r > 0) {
        const row: QemuRound = { round: r, acknowledged: ack, meta: verdict(res.meta, ack), state: verdict(res.state, ack) };
        out.push(row);
        say(`round ${r}: acknowledged ${ack}, read meta ${res.meta} -> ${row.meta}; state ${res.state} -> ${row.state}`);
      }
      // The next boot starts from what this one read, plus what it acknowledged before its kill.
      const readK = Math.max(Number(res.meta.match(/^value-(\d+)/)?.[1] ?? 0), Number(res.state.match(/^value-(\d+)/)?.[1] ?? 0));
      ack = res.lastDone ?? readK;
    }
    const lines: string[] = [];
    let broken = 0;
    for (const kind of ["meta", "state"] as const) {
      const counts: Record<string, number> = {};
      for (const o of out) counts[o[kind]] = (counts[o[kind]] ?? 0) + 1;
      broken += out.filter((o) => o[kind].startsWith("BROKEN")).length;
      lines.push(`### ${kind === "meta" ? "META" : "STATE config.yaml"} after the kill`, "", "| outcome | boots |", "|---|---|", ...Object.entries(counts).map(([k, n]) => `| ${k} | ${n} |`), "");
    }
    return { lines, broken };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
