/**
 * What the dashboard costs on an idle node: its RSS and CPU over a minute, and what its refreshes
 * cost init (which answers them). Container mode (the compiled binary's init in a network
 * namespace of its own, networkd included), the dashboard personality on init's socket in an
 * 80x25 tmux pane, as init runs it on a node's tty1 (refresh 2 s, the kernel log pane).
 * Also a minute of init with no dashboard, for comparison, and the screen as it was at the end.
 * Usage: bun bench/dashboard.ts [SECONDS]   (needs root, ip, tmux; writes bench/results/dashboard.md)
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { root, writeResults } from "./lib.ts";

const SECONDS = Number(process.argv[2] ?? 60);
const bin = resolve(root, "out/bunker");
const TICK = 100; // USER_HZ: /proc/PID/stat counts CPU time in 1/100 s
const ns = `bkdashbench${process.pid}`;
const sock = `bkdashbench${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), "bunker-dashbench-"));
chmodSync(dir, 0o711);

const run = (argv: string[]) => {
  const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout.toString();
};
const tmux = (...a: string[]) => run(["tmux", "-L", sock, ...a]);

/** CPU seconds (user + system) of a process. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / TICK;
}
function statusKb(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : NaN;
}
const mb = (kb: number) => `${(kb / 1024).toFixed(1)} MB`;

/** Samples over `seconds`: CPU of each pid (share of one core) and the dashboard's RSS every 5 s. */
async function measure(pids: Record<string, number>, seconds: number, rssOf?: number) {
  const t0 = performance.now();
  const c0 = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuSeconds(p)]));
  const rss: number[] = [];
  while (performance.now() - t0 < seconds * 1000) {
    await Bun.sleep(5000);
    if (rssOf !== undefined) rss.push(statusKb(rssOf, "VmRSS"));
  }
  const wall = (performance.now() - t0) / 1000;
  const cpu = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, ((cpuSeconds(p) - c0[k]!) / wall) * 100]));
  return { cpu, rss, wall };
}

let init: Bun.Subprocess | undefined;
try {
  run(["ip", "netns", "add", ns]);
  run(["ip", "-n", ns, "link", "set", "lo", "up"]);
  run([bin, "bunkerctl", "gen", "config", "bench", "https://127.0.0.1:50000", "--output-dir", join(dir, "cfg")]);
  const state = join(dir, "state");
  init = Bun.spawn(["ip", "netns", "exec", ns, bin, "init", "--mode=container", "--state-dir", state, "--config", join(dir, "cfg", "controlplane.yaml"), "--api-listen", "127.0.0.1:50000"],
    { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  const socket = join(state, "init.sock");
  for (let i = 0; i < 300 && !existsSync(socket); i++) await Bun.sleep(100);
  await Bun.sleep(10_000); // boot settles: services started, first resources written
  const initPid = init.pid; // `ip netns exec` execs init: the same pid
  console.log(`idle node, no dashboard, ${SECONDS} s ...`);
  const base = await measure({ init: initPid }, SECONDS);

  tmux("new-session", "-d", "-s", "dash", "-x", "80", "-y", "25", `exec ip netns exec ${ns} env TERM=linux ${bin} dashboard --socket ${socket}`);
  const dashPid = Number(tmux("display", "-p", "-t", "dash", "#{pane_pid}").trim());
  await Bun.sleep(5000); // its first refreshes and JIT warm-up are not the steady state
  console.log(`idle node with the dashboard (pid ${dashPid}), ${SECONDS} s ...`);
  const withDash = await measure({ init: initPid, dashboard: dashPid }, SECONDS, dashPid);
  const screen = tmux("capture-pane", "-p", "-t", "dash");
  const hwm = statusKb(dashPid, "VmHWM");
  const rss = withDash.rss;
  writeResults("dashboard", "dashboard: RSS and CPU on an idle node", [
    `Container mode (init, networkd and apid of the compiled binary in a network namespace with only`,
    `loopback), the dashboard personality on init's socket in an 80x25 tmux pane, refreshing every 2 s`,
    `with the kernel log pane: what init runs on a node's tty1. ${SECONDS} s each; CPU is the share of`,
    `one core (user + system from /proc/PID/stat), RSS sampled every 5 s. \`bun bench/dashboard.ts\`.`,
    "",
    "| | CPU | RSS |",
    "|---|---|---|",
    `| dashboard | ${withDash.cpu.dashboard!.toFixed(2)} % | ${mb(Math.min(...rss))} to ${mb(Math.max(...rss))} (peak ${mb(hwm)}) |`,
    `| init, answering it | ${withDash.cpu.init!.toFixed(2)} % | |`,
    `| init, no dashboard | ${base.cpu.init!.toFixed(2)} % | |`,
    "",
    "Each refresh asks init for version, MachineStatus, services, memory, load, the CPU counters",
    "(SystemStat: /proc/stat, one file), addresses, routes and the log pane's last lines (no stream",
    "is held open). In container mode `Dmesg` reads the host's kernel log, larger than a node's.",
    "What the same refreshes cost a node in an emulated CPU: bench/results/idle.md.",
    "",
    "The screen at the end (80x25, no colour in this capture):",
    "",
    "```",
    ...screen.trimEnd().split("\n"),
    "```",
  ]);
} finally {
  try { tmux("kill-server"); } catch { /* not started */ }
  if (init) {
    init.kill("SIGTERM");
    await Promise.race([init.exited, Bun.sleep(20_000)]);
    if (init.exitCode === null) init.kill("SIGKILL");
  }
  Bun.spawnSync(["ip", "netns", "del", ns]);
  rmSync(dir, { recursive: true, force: true });
}
