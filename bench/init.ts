/**
 * init's memory under churn: RSS of `bunker init --mode=container` at rest, after a service has
 * written 100 MB to stdout (kept in a 1 MiB ring), and after 10,000 restarts of a service that
 * exits at once. Both must stay bounded: logs by the ring, restarts by the 64 kept events.
 * Usage: bun bench/init.ts [--restarts N] [--log-mb N]
 * Writes bench/results/init.md.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { MachineService } from "../core/api/gen/services.ts";
import { getSpec, initClient } from "../services/init/api/client.ts";
import type { ServiceStatus } from "../services/init/service.ts";
import { root, writeResults } from "./lib.ts";

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => { const i = args.indexOf(name); return i >= 0 ? Number(args[i + 1]) : dflt; };
const restarts = opt("--restarts", 10_000);
const logMB = opt("--log-mb", 100);
const bin = resolve(root, "out/bunker");
if (!existsSync(bin)) throw new Error("out/bunker is missing: run `node_modules/.bin/bun scripts/build.ts`");

const dir = mkdtempSync(join(tmpdir(), "bunker-bench-init-"));
const go = join(dir, "start-crashing");
const goLog = join(dir, "start-logging");
writeFileSync(join(dir, "services.yaml"), JSON.stringify([
  { id: "logger2", conditions: [{ file: goLog + "2" }], restart: { policy: "never" }, argv: ["/bin/sh", "-c", `yes 'a log line of some sixty-four bytes, like a service would write' | head -c ${3 * logMB * 1_000_000}`] },
  { id: "logger", conditions: [{ file: goLog }], restart: { policy: "never" }, argv: ["/bin/sh", "-c", `yes 'a log line of some sixty-four bytes, like a service would write' | head -c ${logMB * 1_000_000}`] },
  { id: "crasher", conditions: [{ file: go }], argv: ["/bin/true"], restart: { policy: "always", baseDelayMs: 1, maxDelayMs: 1 } },
]));

const init = Bun.spawn([bin, "init", "--mode=container", "--state-dir", dir, "--services", join(dir, "services.yaml"), "--no-table"],
  { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
const rss = () => {
  const s = readFileSync(`/proc/${init.pid}/status`, "utf8");
  const kb = (f: string) => Number(new RegExp(`^${f}:\\s+(\\d+) kB`, "m").exec(s)?.[1] ?? 0);
  return { rss: kb("VmRSS") / 1024, hwm: kb("VmHWM") / 1024 };
};
const fmt = (r: { rss: number; hwm: number }) => `${r.rss.toFixed(1)} MB | ${r.hwm.toFixed(1)} MB`;

try {
  for (let i = 0; i < 200 && !existsSync(join(dir, "init.sock")); i++) await Bun.sleep(50);
  const c = initClient(join(dir, "init.sock"));
  const svc = async (id: string) => (await getSpec<ServiceStatus>(c, "svc", id))!;
  const lines = ["| when | RSS | peak RSS (VmHWM) |", "|---|---|---|"];
  await Bun.sleep(500);
  lines.push(`| after boot, idle | ${fmt(rss())} |`);

  writeFileSync(goLog, "");
  let logger = await svc("logger");
  while (logger.state !== "Finished") { await Bun.sleep(100); logger = await svc("logger"); }
  // From the service's own events: started (Running) to exited (Finished).
  const at = (state: string) => Date.parse(logger.events.find((e) => e.state === state)!.time);
  const logSecs = Math.max(0.001, (at("Finished") - at("Running")) / 1000);
  Bun.gc(true);
  lines.push(`| after ${logMB} MB of service output (kept: 1 MiB ring) | ${fmt(rss())} |`);
  // Three times more from a second service: RSS must not grow with the volume.
  writeFileSync(goLog + "2", "");
  while ((await svc("logger2")).state !== "Finished") await Bun.sleep(100);
  lines.push(`| after ${4 * logMB} MB of output (two services, 1 MiB ring each) | ${fmt(rss())} |`);

  writeFileSync(go, "");
  const t0 = performance.now();
  let n = 0;
  const marks = new Map<number, string>();
  while ((n = (await svc("crasher")).restarts) < restarts) {
    for (const m of [1000, 5000]) if (n >= m && !marks.has(m)) marks.set(m, fmt(rss()));
    await Bun.sleep(250);
  }
  const restartSecs = (performance.now() - t0) / 1000;
  await c.unary(MachineService.ServiceStop, { id: "crasher" });
  for (const [m, v] of marks) lines.push(`| after ${m} restarts | ${v} |`);
  lines.push(`| after ${n} restarts | ${fmt(rss())} |`);
  c.close();

  lines.push(
    "",
    `- ${logMB} MB of output drained in ${logSecs.toFixed(1)} s (${(logMB / logSecs).toFixed(0)} MB/s) through init's pipes into the ring.`,
    `- ${n} restarts of \`/bin/true\` (backoff 1 ms) in ${restartSecs.toFixed(1)} s (${(n / restartSecs).toFixed(0)} restarts/s): each one is a spawn, a Service resource update and an event.`,
    "- Bounded by design: each service keeps a 1 MiB ring and its last 64 events; the event history keeps 1000 events.",
    `- Machine: ${navigator.hardwareConcurrency} CPUs shared with other work; Bun ${Bun.version}.`,
  );
  writeResults("init", "init: RSS under 10,000 restarts and 100 MB of service logs", lines);
} finally {
  init.kill(9);
  await init.exited;
  rmSync(dir, { recursive: true, force: true });
}
