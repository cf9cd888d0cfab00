/**
 * Local clusters: time from `bunkerctl cluster create --wait` to healthy, and the memory of the
 * whole cluster once healthy (RSS of every process in its namespaces: inits and their services,
 * or QEMU and the DHCP and time servers; plus the forwarder), for one node alone and for 3
 * control planes + 1 worker, with each provisioner, in the same run. Each cluster is destroyed
 * before the next. Bounded: --runs per shape (default 3 for containers, 1 for QEMU).
 * Usage: bun bench/cluster.ts [--runs N] [--no-qemu]   (as root; QEMU needs out/image, built if missing)
 * Writes the "create" section of bench/results/cluster.md (the trustd section is kept).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, chmodSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { median, root, writeSection } from "./lib.ts";

const args = process.argv.slice(2);
const runsArg = args.includes("--runs") ? Number(args[args.indexOf("--runs") + 1]) : undefined;
const bin = resolve(root, "out/bunker");
if (!existsSync(bin)) throw new Error("out/bunker is missing: run `node_modules/.bin/bun scripts/build.ts`");
if (process.getuid?.() !== 0) throw new Error("bench/cluster.ts needs root (network namespaces)");
const qemu = !args.includes("--no-qemu") && Bun.which("qemu-system-x86_64") !== null;
const image = resolve(root, "out/image");
if (qemu && !existsSync(join(image, "vmlinuz"))) {
  const b = Bun.spawnSync([resolve(root, "node_modules/.bin/bun"), resolve(root, "rootfs/build/main.ts"), "--out", image, "--no-iso"], { stdout: "inherit", stderr: "inherit" });
  if (b.exitCode !== 0) throw new Error("image build failed");
}

const work = mkdtempSync(join(tmpdir(), "bunker-bench-cluster-"));
chmodSync(work, 0o755);
const env = { ...process.env, BUNKER_CLUSTERS: join(work, "clusters"), BUNKERCONFIG: join(work, "bunkerconfig") };

/** RSS (bytes) of every process in the cluster's namespaces and of its forwarder. */
function clusterRss(name: string): { bytes: number; processes: number } {
  const ns = Bun.spawnSync(["ip", "netns", "list"]).stdout.toString().split("\n").map((l) => l.split(" ")[0]!).filter((n) => n === `bunker-${name}` || n.startsWith(`bunker-${name}-`));
  const pids = new Set(ns.flatMap((n) => Bun.spawnSync(["ip", "netns", "pids", n]).stdout.toString().split("\n").filter((s) => s.trim() !== "")));
  for (const p of readdirSync("/proc").filter((x) => /^\d+$/.test(x))) {
    try { if (readFileSync(`/proc/${p}/cmdline`, "utf8").includes(`--netns\0bunker-${name}\0`)) pids.add(p); } catch { /* gone */ }
  }
  let bytes = 0;
  for (const p of pids) {
    try { bytes += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, "utf8"))?.[1] ?? 0) * 1024; } catch { /* gone */ }
  }
  return { bytes, processes: pids.size };
}

interface Shape { provisioner: "container" | "qemu"; cps: number; workers: number; runs: number }
const shapes: Shape[] = [
  { provisioner: "container", cps: 1, workers: 0, runs: runsArg ?? 3 },
  { provisioner: "container", cps: 3, workers: 1, runs: runsArg ?? 3 },
  ...(qemu ? [{ provisioner: "qemu", cps: 1, workers: 0, runs: runsArg ?? 1 }, { provisioner: "qemu", cps: 3, workers: 1, runs: runsArg ?? 1 }] as Shape[] : []),
];

const rows: string[] = [];
const load0 = loadavg()[0]!;
try {
  for (const s of shapes) {
    const times: number[] = [];
    const mem: number[] = [];
    let procs = 0;
    for (let i = 0; i < s.runs; i++) {
      const name = `b${process.pid % 10000}${i}`;
      const t0 = performance.now();
      const p = Bun.spawnSync([bin, "bunkerctl", "cluster", "create", "--provisioner", s.provisioner, "--name", name, "--controlplanes", String(s.cps), "--workers", String(s.workers),
        ...(s.provisioner === "qemu" ? ["--image", image] : []), "--wait", "--wait-timeout", "10m"], { env, stdout: "pipe", stderr: "pipe" });
      const ms = performance.now() - t0;
      if (p.exitCode !== 0) {
        Bun.spawnSync([bin, "bunkerctl", "cluster", "destroy", "--name", name], { env });
        throw new Error(`cluster create (${s.provisioner} ${s.cps}+${s.workers}) exited ${p.exitCode}: ${p.stderr.toString()}`);
      }
      times.push(ms);
      const r = clusterRss(name);
      mem.push(r.bytes);
      procs = r.processes;
      Bun.spawnSync([bin, "bunkerctl", "cluster", "destroy", "--name", name], { env });
      console.log(`${s.provisioner} ${s.cps}+${s.workers} run ${i + 1}: healthy after ${(ms / 1000).toFixed(1)} s, ${(r.bytes / 2 ** 20).toFixed(0)} MiB RSS in ${r.processes} processes`);
    }
    rows.push(`| ${s.provisioner} | ${s.cps} + ${s.workers} | ${s.runs} | ${(median(times) / 1000).toFixed(1)} s | ${(Math.min(...times) / 1000).toFixed(1)}-${(Math.max(...times) / 1000).toFixed(1)} s | ${(median(mem) / 2 ** 20).toFixed(0)} MiB | ${procs} |`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

writeSection("cluster", "Cluster", "create", [
  "<!-- create: written by bench/cluster.ts -->",
  "## cluster create: time to healthy and memory",
  "",
  `Measured ${new Date().toISOString().slice(0, 10)} on ${navigator.hardwareConcurrency} cores, Bun ${Bun.version}; \`bun bench/cluster.ts${runsArg ? ` --runs ${runsArg}` : ""}\` as root.`,
  "Time: from starting `bunkerctl cluster create --wait` to its exit once `health` passed (every node answers with a",
  "CA-signed certificate, is ready and has its clock in sync; etcd bootstrapped on the first control plane and every",
  "control plane a voting member with one leader: the container nodes run the host's etcd, the QEMU nodes the image's",
  "etcd extension). Memory: RSS of every process in the cluster's network namespaces and of the port forwarder, right",
  "after. QEMU: TCG (KVM is not usable on these machines), 512 MiB per VM, RAM-only nodes booted from out/image, with",
  "`bunker.dashboard=0` (no display); its memory is the guests' touched memory plus QEMU's own.",
  "",
  "| provisioner | control planes + workers | runs | median to healthy | range | cluster RSS (median) | processes |",
  "|---|---|---|---|---|---|---|",
  ...rows,
  "",
  "The single-node rows are the same run's baseline for the 3 + 1 rows.",
  `Load average (1 min) at the start and the end of the run: ${load0.toFixed(1)} and ${loadavg()[0]!.toFixed(1)} (other work on the machine slows the TCG guests most).`,
  "<!-- /create -->",
].join("\n"));
