/**
 * `bunkerctl support`: wall time, peak RSS of the client, archive size and entries, for a local
 * cluster of 3 control planes and a worker (`bunkerctl cluster create --provisioner container`,
 * each node in its own network namespace) reached through one endpoint, and for its first node
 * alone, in the same run. dmesg is the host's kernel ring (the same on every node).
 * Usage: bun bench/support.ts [--runs N]   (as root)
 * Writes bench/results/support.md.
 */
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { formatBytes } from "../core/format/bytes.ts";
import { median, root, writeResults } from "./lib.ts";

const args = process.argv.slice(2);
const runs = (() => { const i = args.indexOf("--runs"); return i >= 0 ? Number(args[i + 1]) : 5; })();
const bin = resolve(root, "out/bunker");
if (!existsSync(bin)) throw new Error("out/bunker is missing: run `node_modules/.bin/bun scripts/build.ts`");
if (process.getuid?.() !== 0) throw new Error("bench/support.ts needs root (cluster create makes network namespaces)");

const out = mkdtempSync(join(tmpdir(), "bunker-bench-support-"));
chmodSync(out, 0o755);
const env = { ...(process.env as Record<string, string>), BUNKERCONFIG: join(out, "bunkerconfig"), BUNKER_CLUSTERS: join(out, "clusters") };
const name = `s${process.pid % 10000}`;
const nodes = ["10.5.0.2", "10.5.0.3", "10.5.0.4", "10.5.0.5"];
try {
  const c = Bun.spawnSync([bin, "bunkerctl", "cluster", "create", "--provisioner", "container", "--name", name, "--controlplanes", "3", "--workers", "1", "--wait"], { env, stdout: "pipe", stderr: "pipe" });
  if (c.exitCode !== 0) throw new Error(`cluster create failed: ${c.stderr.toString()}`);
  const measure = (list: string[]) => {
    const argv = (file: string) => [bin, "bunkerctl", "support", "-n", list.join(","), "-O", file, "--force"];
    const ms: number[] = [];
    let size = 0, entries = 0, raw = 0;
    for (let i = 0; i < runs; i++) {
      const file = join(out, "support.tar.gz");
      const t0 = performance.now();
      const r = Bun.spawnSync(argv(file), { env, stdout: "ignore", stderr: "pipe" });
      ms.push(performance.now() - t0);
      if (r.exitCode !== 0) throw new Error(`support failed: ${r.stderr.toString()}`);
      size = statSync(file).size;
      const listing = Bun.spawnSync(["tar", "-tvzf", file], { stdout: "pipe" }).stdout.toString().trim().split("\n");
      entries = listing.length;
      raw = listing.reduce((n, l) => n + Number(l.split(/\s+/)[2] ?? 0), 0);
    }
    const rss = Bun.spawnSync(["/usr/bin/time", "-f", "maxrss-kb=%M", ...argv(join(out, "rss.tar.gz"))], { env, stdout: "ignore", stderr: "pipe" });
    const kb = Number(/maxrss-kb=(\d+)/.exec(rss.stderr.toString())?.[1] ?? NaN);
    return { ms, size, entries, raw, kb };
  };
  const one = measure(nodes.slice(0, 1));
  const all = measure(nodes);
  const start: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    Bun.spawnSync([bin, "bunkerctl", "version", "--client"], { env, stdout: "ignore", stderr: "ignore" });
    start.push(performance.now() - t0);
  }
  const row = (what: string, m: ReturnType<typeof measure>) =>
    `| ${what} | ${(median(m.ms) / 1000).toFixed(2)} s (${(Math.min(...m.ms) / 1000).toFixed(2)}-${(Math.max(...m.ms) / 1000).toFixed(2)}) | ${formatBytes(m.size)} | ${formatBytes(m.raw)} in ${m.entries} entries | ${formatBytes(m.kb * 1024)} |`;
  writeResults("support", "bunkerctl support: time and size", [
    "A local cluster of 3 control planes and a worker (`bunkerctl cluster create --provisioner container`, each",
    "node in its own network namespace), every node reached through one endpoint (the first control plane",
    "relays); the first node alone in the same run for comparison.",
    "",
    `| nodes | wall time, median of ${runs} (min-max) | archive (tar.gz) | uncompressed | peak RSS of bunkerctl |`,
    "|---|---|---|---|---|",
    row("1 (a control plane)", one),
    row("4 (3 control planes + 1 worker)", all),
    "",
    `For scale, \`bunkerctl version --client\` (the client's start-up alone): median ${(median(start) / 1000).toFixed(2)} s.`,
    "",
    "- Per node: version, redacted config, services, each service's log, dmesg (the host's kernel ring:",
    "  most of the bytes), events, every resource type, processes, mounts, memory, disks, network state",
    "  and sockets. The nodes are asked concurrently.",
    "- The archive is built in memory and written once: the client's memory grows with the bundle,",
    "  bounded by what the nodes keep (1 MiB log ring per service, the kernel ring, 1000 events).",
    "",
    "Command: `node_modules/.bin/bun bench/support.ts` as root (after `node_modules/.bin/bun scripts/build.ts`).",
  ]);
} finally {
  Bun.spawnSync([bin, "bunkerctl", "cluster", "destroy", "--name", name], { env, stdout: "ignore", stderr: "ignore" });
  rmSync(out, { recursive: true, force: true });
}
