/**
 * networkd under init: how long an apply-config takes to reach the kernel and come back as an
 * Address resource through init's API, and what networkd and init hold in memory at rest.
 * init runs in container mode inside a network namespace with a veth pair, as in
 * test/networkd-init.test.ts. Needs root and out/bunker. Usage: bun bench/netinit.ts [--runs N]
 * Writes bench/results/netinit.md.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bunker } from "../core/api/gen/api.js";
import { MachineService } from "../core/api/gen/services.ts";
import { getSpec, initClient } from "../services/init/api/client.ts";
import type { ServiceStatus } from "../services/init/service.ts";
import { workerConfig } from "../test/lib/machineconfig.ts";
import { Netns, netnsSkipReason, vethPair, waitFor } from "../test/lib/netns.ts";
import { median, percentile, root, writeResults } from "./lib.ts";

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf("--runs") + 1] ?? 0) || 20;
const bin = join(root, "out/bunker");
if (netnsSkipReason) throw new Error(`bench/netinit.ts ${netnsSkipReason}`);
if (!existsSync(bin)) throw new Error("bench/netinit.ts needs out/bunker (node_modules/.bin/bun scripts/build.ts)");

const config = (n: number) => workerConfig(`  network:\n    hostname: bench${n}\n    interfaces:\n      - interface: eth0\n        addresses: [10.5.${n}.2/24]\n`);
const rssKiB = (pid: number) => Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN);
const fmt = (ms: number) => `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;

const node = new Netns("bni"), peer = new Netns("bnp");
vethPair(node, peer);
peer.ip("link", "set", "eth0", "up");
const dir = mkdtempSync(join(tmpdir(), "bunker-bench-netinit-"));
chmodSync(dir, 0o755);
writeFileSync(join(dir, "machine.yaml"), config(0));
const init = Bun.spawn(["ip", "netns", "exec", node.name, bin, "init", "--mode=container", "--state-dir", dir, "--config", join(dir, "machine.yaml")], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
const lines: string[] = [];
try {
  if (!(await waitFor(() => existsSync(join(dir, "init.sock")), 10_000))) throw new Error("init did not serve its socket");
  const c = initClient(join(dir, "init.sock"));
  if (!(await waitFor(async () => (await getSpec(c, "addresses", "eth0/10.5.0.2/24")) !== undefined, 15_000))) throw new Error("networkd did not publish its address");
  const applied: number[] = [];
  for (let i = 1; i <= runs; i++) {
    const t0 = performance.now();
    await c.unary(MachineService.ApplyConfiguration, { data: new TextEncoder().encode(config(i)), mode: bunker.machine.v1.ApplyMode.APPLY_MODE_LIVE });
    if (!(await waitFor(async () => (await getSpec(c, "addresses", `eth0/10.5.${i}.2/24`)) !== undefined, 10_000))) throw new Error(`apply ${i}: no Address resource`);
    applied.push(performance.now() - t0);
  }
  // At rest: a few periodic passes after the last apply.
  await Bun.sleep(12_000);
  const networkd = (await getSpec<ServiceStatus>(c, "svc", "networkd"))!;
  const initPid = Number(node.exec(["sh", "-c", `pgrep -o -f 'state-dir ${dir}'`]).trim());
  lines.push(
    `apply-config (live, a new address and hostname) until the new Address resource is in init's store, ${runs} runs: ` +
      `median ${fmt(median(applied))}, p90 ${fmt(percentile(applied, 90))}, max ${fmt(Math.max(...applied))}.`, "",
    "It covers: the ApplyConfiguration call, init's network-config controller, networkd's watch, a reconcile pass (netlink), ResourcePublisher.Replace of every kind, and the client's polling (every 50 ms, so up to 50 ms of it is the poll).", "",
    "| process | RSS at rest |", "|---|---|",
    `| networkd (uid 52, under init) | ${(rssKiB(networkd.pid!) / 1024).toFixed(1)} MiB |`,
    `| init (container mode, running networkd and apid) | ${(rssKiB(initPid) / 1024).toFixed(1)} MiB |`, "",
  );
  c.close();
} finally {
  init.kill("SIGTERM");
  await Promise.race([init.exited, Bun.sleep(15_000)]);
  init.kill("SIGKILL");
  node.delete();
  peer.delete();
  rmSync(dir, { recursive: true, force: true });
}
lines.push("Reproduce: `node_modules/.bin/bun bench/netinit.ts` (root; builds nothing: run scripts/build.ts first).");
writeResults("netinit", "networkd under init: apply-config to resource, memory", lines);
process.exit(0);
