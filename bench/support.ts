/**
 * `bunkerctl support`: wall time, peak RSS of the client, archive size and entries, for two
 * container-mode nodes of one cluster (the compiled binary's init and apid on loopback) reached
 * through one endpoint (node b relayed by node a's apid). Container mode runs apid as the only
 * service, so the logs are short; dmesg is the host's kernel ring (the same on both nodes).
 * Usage: bun bench/support.ts [--runs N]
 * Writes bench/results/support.md.
 */
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { formatBytes } from "../core/format/bytes.ts";
import { generateSecrets } from "../core/secrets/secrets.ts";
import { ctl, TestCluster } from "../test/lib/remote-cluster.ts";
import { secretCluster } from "../test/lib/secret-cluster.ts";
import { median, root, writeResults } from "./lib.ts";

const args = process.argv.slice(2);
const runs = (() => { const i = args.indexOf("--runs"); return i >= 0 ? Number(args[i + 1]) : 5; })();
const bin = resolve(root, "out/bunker");
if (!existsSync(bin)) throw new Error("out/bunker is missing: run `node_modules/.bin/bun scripts/build.ts`");

const secrets = generateSecrets();
const cluster = new TestCluster(secrets.os);
chmodSync(cluster.dir, 0o711);
const { ep, nodes } = await secretCluster(cluster, secrets, "bench-file-secret");
const out = mkdtempSync(join(tmpdir(), "bunker-bench-support-"));
try {
  for (const n of nodes) n.start();
  const admin = cluster.config("admin", { client: cluster.client(["os:admin"]) }, [ep.a], [ep.a]);
  for (const e of [ep.a, ep.b]) {
    const h = await ctl(admin, "health", "-e", e, "-n", e, "--wait-timeout", "60s");
    if (h.code !== 0) throw new Error(`node ${e} not ready: ${h.out}${h.err}`);
  }
  const env = { ...(process.env as Record<string, string>), BUNKERCONFIG: admin, HOME: out };
  const argv = (file: string) => [bin, "bunkerctl", "support", "-e", ep.a, "-n", `${ep.a},${ep.b}`, "-O", file, "--force"];
  const ms: number[] = [];
  let size = 0;
  let entries = 0;
  let raw = 0;
  for (let i = 0; i < runs; i++) {
    const file = join(out, "support.tar.gz");
    const t0 = performance.now();
    const r = Bun.spawnSync(argv(file), { env, stdout: "ignore", stderr: "pipe" });
    ms.push(performance.now() - t0);
    if (r.exitCode !== 0) throw new Error(`support failed: ${r.stderr.toString()}`);
    size = statSync(file).size;
    const list = Bun.spawnSync(["tar", "-tvzf", file], { stdout: "pipe" }).stdout.toString().trim().split("\n");
    entries = list.length;
    raw = list.reduce((n, l) => n + Number(l.split(/\s+/)[2] ?? 0), 0);
  }
  const start: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    Bun.spawnSync([bin, "bunkerctl", "version", "--client"], { env, stdout: "ignore", stderr: "ignore" });
    start.push(performance.now() - t0);
  }
  const rss = Bun.spawnSync(["/usr/bin/time", "-f", "maxrss-kb=%M", ...argv(join(out, "rss.tar.gz"))], { env, stdout: "ignore", stderr: "pipe" });
  const kb = Number(/maxrss-kb=(\d+)/.exec(rss.stderr.toString())?.[1] ?? NaN);
  writeResults("support", "bunkerctl support: time and size", [
    "Two container-mode nodes (`bunker init --mode=container`, one cluster) on loopback, both reached",
    "through node a's endpoint (`-e A -n A,B`: B relayed). A 4-node cluster was not measured: the",
    "parts are collected from the nodes concurrently, so the time should follow the slowest node",
    "and the size grow by one node's share per node.",
    "",
    "| figure | value |",
    "|---|---|",
    `| wall time, median of ${runs} (min-max) | ${(median(ms) / 1000).toFixed(2)} s (${(Math.min(...ms) / 1000).toFixed(2)}-${(Math.max(...ms) / 1000).toFixed(2)} s) |`,
    `| archive (tar.gz) | ${formatBytes(size)} |`,
    `| contents uncompressed | ${formatBytes(raw)} in ${entries} entries |`,
    `| per node | ${formatBytes(size / 2)} compressed |`,
    `| peak RSS of bunkerctl | ${formatBytes(kb * 1024)} |`,
    `| for scale: \`bunkerctl version --client\` (start-up alone), median | ${(median(start) / 1000).toFixed(2)} s |`,
    "",
    "- Per node: version, redacted config, services, each service's log (only apid runs in container",
    "  mode), dmesg (the host's kernel ring: most of the bytes), events, every resource type (~20),",
    "  processes, mounts, memory, disks, network state and sockets.",
    "- Wall time includes starting the client binary (the last row).",
    "- The archive is built in memory and written once: the client's memory grows with the bundle,",
    "  bounded by what the nodes keep (1 MiB log ring per service, the kernel ring, 1000 events).",
    "",
    "Command: `node_modules/.bin/bun bench/support.ts` (after `node_modules/.bin/bun scripts/build.ts`).",
  ]);
} finally {
  await Promise.all(nodes.map((n) => n.stop()));
  await cluster.close();
  rmSync(out, { recursive: true, force: true });
}
