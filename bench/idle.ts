/**
 * What an idle node costs the machine it runs on: the host CPU of QEMU (TCG) running a configured
 * node that does nothing, with the dashboard on tty1 as a node has it and with the dashboard
 * stopped, and each process's share inside the guest over the same minutes (`bunkerctl ps`
 * before and after). Under TCG every guest instruction is emulated, so what a node does at idle
 * is what four of them in a local cluster take from the host's cores. Writes bench/results/idle.md.
 * Usage: bun bench/idle.ts [--seconds N] [--also DIR]   (needs out/image; --also measures a second
 * image the same way, e.g. one built before a change)
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir, loadavg } from "node:os";
import { join, resolve } from "node:path";
import { ctlOk, genCluster, waitForApi } from "../test/e2e/node.ts";
import { freePort, withQemu, type Qemu } from "../test/qemu/runner.ts";
import { parseStat } from "../core/procfs/processes.ts";
import { findArray, root, writeResults } from "./lib.ts";

const args = process.argv.slice(2);
const opt = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const SECONDS = Number(opt("--seconds") ?? 60);
const SETTLE_MS = 30_000; // past start-up, the first DHCP renewal timers and the first health checks
const images = [resolve(root, "out/image"), ...(opt("--also") ? [resolve(opt("--also")!)] : [])];
for (const d of images) if (!existsSync(join(d, "initramfs.zst"))) throw new Error(`${d}: no initramfs.zst (build the image first)`);

const hostCpuSeconds = (pid: number): number => parseStat(readFileSync(`/proc/${pid}/stat`, "utf8")).cpuSeconds;

type Proc = { pid: number; args: string; cpuSeconds: number };
async function guestCpu(bunkerconfig: string): Promise<Map<number, Proc>> {
  const ps = JSON.parse(await ctlOk(["ps", "-o", "json"], bunkerconfig)) as unknown;
  const procs = findArray<{ pid?: number; args?: string; command?: string; cpuSeconds?: number }>(ps, "pid");
  return new Map(procs.map((p) => [p.pid ?? 0, { pid: p.pid ?? 0, args: (p.args || p.command || "?").split(" ")[0]!, cpuSeconds: Number(p.cpuSeconds ?? 0) }]));
}

interface Window { host: number; guest: { name: string; share: number }[] }

/** One window of SECONDS: QEMU's host CPU share, and each guest process's share that used any. */
async function measure(q: Qemu, bunkerconfig: string): Promise<Window> {
  const before = await guestCpu(bunkerconfig);
  const h0 = hostCpuSeconds(q.pid);
  const t0 = performance.now();
  await Bun.sleep(SECONDS * 1000);
  const h1 = hostCpuSeconds(q.pid);
  const elapsed = (performance.now() - t0) / 1000;
  const after = await guestCpu(bunkerconfig);
  const guest = [...after.values()]
    .map((p) => ({ name: p.args, share: (p.cpuSeconds - (before.get(p.pid)?.cpuSeconds ?? p.cpuSeconds)) / elapsed }))
    .filter((p) => p.share >= 0.001)
    .sort((a, b) => b.share - a.share);
  return { host: (h1 - h0) / elapsed, guest };
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
const lines: string[] = [
  `Measured ${new Date().toISOString().slice(0, 10)} on ${navigator.hardwareConcurrency} cores, QEMU TCG (-cpu max, 512 MiB, 1 vCPU).`,
  "",
  `A node booted from the image, its config applied through maintenance mode, then left alone for ${SETTLE_MS / 1000} s.`,
  `Two windows of ${SECONDS} s each: first as a node runs (the dashboard on tty1), then with the`,
  "dashboard stopped (`bunkerctl service dashboard stop`). Host: QEMU's CPU time over the window, as",
  "a share of one host core (/proc/PID/stat). Guest: each process's CPU time over the same window",
  "(`bunkerctl ps` before and after), as a share of the one vCPU; processes under 0.1 % left out.",
  "`bun bench/idle.ts [--seconds N] [--also DIR]`.",
];
const work = mkdtempSync(join(tmpdir(), "bunker-idle-bench-"));
const load0 = loadavg()[0]!;
try {
  for (const dir of images) {
    const port = await freePort();
    const c = await genCluster(join(work, `cluster-${images.indexOf(dir)}`), port, "idle");
    const [withDash, without] = await withQemu({ kernel: join(dir, "vmlinuz"), initrd: join(dir, "initramfs.zst"), append: "console=ttyS0,115200", memoryMiB: 512, hostfwd: [{ host: port, guest: 50000 }] }, async (q) => {
      await waitForApi({ port, insecure: true }, 180_000);
      await ctlOk(["apply-config", "--insecure", "-e", `127.0.0.1:${port}`, "-f", c.controlplane]);
      await waitForApi({ bunkerconfig: c.bunkerconfig, port }, 120_000);
      await Bun.sleep(SETTLE_MS);
      const a = await measure(q, c.bunkerconfig);
      await ctlOk(["service", "dashboard", "stop"], c.bunkerconfig);
      const b = await measure(q, c.bunkerconfig);
      return [a, b];
    });
    const names = [...new Set([...withDash.guest, ...without.guest].map((p) => p.name))];
    const share = (w: Window, n: string) => {
      const p = w.guest.find((g) => g.name === n);
      return p ? pct(p.share) : "-";
    };
    lines.push("", `## ${dir === images[0] ? "out/image" : `--also ${dir.split("/").pop()}`}`, "",
      "| | dashboard running | dashboard stopped |", "|---|---:|---:|",
      `| **QEMU on the host** | **${pct(withDash.host)}** | **${pct(without.host)}** |`,
      ...names.map((n) => `| guest: ${n} | ${share(withDash, n)} | ${share(without, n)} |`));
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
lines.push("", `Load average (1 min) at the start and the end: ${load0.toFixed(1)} and ${loadavg()[0]!.toFixed(1)} (other work on the host's cores slows the guest and moves these figures).`);
writeResults("idle", "An idle node: what it costs the host, with and without the dashboard", lines);
