/**
 * etcd on a container-mode cluster of 3 control planes (the host's etcd 3.4, as the nodes run it):
 * - formation: from `bunkerctl bootstrap` (every node configured already) to 3 started voting
 *   members with one leader; and from a reset control plane started again with its config (the
 *   last node configured) to 3 again;
 * - writes from the host (a client in the cluster's bridge namespace, one TLS connection per
 *   worker, etcd's KV.Put): latency p50/p99 of sequential puts, and throughput of 16 concurrent
 *   workers, through the cluster's leader, compared in the same run with a single etcd started by
 *   hand on the host's loopback with the same TLS;
 * - a member killed (SIGKILL of its whole namespace), N writes made meanwhile, started again: the
 *   time until it holds them all (its own serializable count, read by etcdctl);
 * - etcd's RSS per node.
 * Usage: bun bench/etcd.ts [--puts N] [--missed N]   (as root; out/bunker built)
 * Writes bench/results/etcd.md. QEMU has no column: the image does not carry etcd yet.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parse } from "yaml";
import { EtcdConnection, health, type EtcdTls } from "../core/etcd/client.ts";
import { startContainerNode } from "../core/cluster/container.ts";
import { loadState } from "../core/cluster/state.ts";
import { fromPemPair, issueLeaf, type CertAndKey } from "../core/pki/issue.ts";
import { privateKeyPem } from "../core/pki/keys.ts";
import { certificatePem } from "../core/pki/x509.ts";
import { clientTls, etcdBinary, etcdConfigFile, urlOf, writeEtcdCerts } from "../services/init/etcd.ts";
import { percentile, root, writeResults } from "./lib.ts";

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : dflt);

/** The load client, run inside the cluster's namespace by the main run: prints its figures as JSON. */
async function load(): Promise<void> {
  const [endpoint, tlsFile, putsS, workersS, prefix] = args.slice(1);
  const tls = JSON.parse(readFileSync(tlsFile!, "utf8")) as EtcdTls;
  const puts = Number(putsS);
  const workers = Number(workersS);
  const value = "x".repeat(256);
  // Sequential: one connection, one put at a time, each timed.
  const c = new EtcdConnection(endpoint!, tls);
  const ms: number[] = [];
  try {
    for (let i = 0; i < 20; i++) await c.put(`${prefix}warm${i}`, value);
    for (let i = 0; i < puts; i++) {
      const t0 = performance.now();
      await c.put(`${prefix}seq${i}`, value);
      ms.push(performance.now() - t0);
    }
  } finally { c.close(); }
  // Concurrent: `workers` connections, each putting in a loop, for the same number of puts in all.
  const conns = Array.from({ length: workers }, () => new EtcdConnection(endpoint!, tls));
  let next = 0;
  const t0 = performance.now();
  try {
    await Promise.all(conns.map(async (k) => { while (next < puts) await k.put(`${prefix}par${next++}`, value); }));
  } finally { for (const k of conns) k.close(); }
  const secs = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ p50: percentile(ms, 50), p99: percentile(ms, 99), seqPerSec: puts / (ms.reduce((a, b) => a + b, 0) / 1000), parPerSec: puts / secs }));
}

if (args[0] === "--load") {
  await load();
  process.exit(0);
}

const bin = resolve(root, "out/bunker");
if (!existsSync(bin)) throw new Error("out/bunker is missing: run `node_modules/.bin/bun scripts/build.ts`");
if (process.getuid?.() !== 0) throw new Error("bench/etcd.ts needs root (network namespaces)");
const etcdctl = ["/usr/bin/etcdctl", "/usr/local/bin/etcdctl"].find((p) => existsSync(p));
if (!etcdBinary() || !etcdctl) throw new Error("etcd and etcdctl are needed (Debian's etcd-server and etcd-client)");
const PUTS = opt("--puts", 2000);
const MISSED = opt("--missed", 5000);
const WORKERS = 16;

const work = mkdtempSync(join(tmpdir(), "bunker-bench-etcd-"));
chmodSync(work, 0o755);
const env = { ...process.env, BUNKER_CLUSTERS: join(work, "clusters"), BUNKERCONFIG: join(work, "bunkerconfig") };
const name = `be${process.pid % 10000}`;
const CPS = ["10.5.0.2", "10.5.0.3", "10.5.0.4"];
const ns = `bunker-${name}`;
const ctl = (...a: string[]) => Bun.spawnSync([bin, "bunkerctl", ...a], { env, stdout: "pipe", stderr: "pipe" });

function etcdctlJson(endpoints: string[], a: string[]): unknown {
  const p = Bun.spawnSync(["ip", "netns", "exec", ns, etcdctl!, "--endpoints", endpoints.map((e) => `https://${e}:2379`).join(","), "--cacert", join(work, "ca.crt"),
    "--cert", join(work, "client.crt"), "--key", join(work, "client.key"), "--dial-timeout", "2s", "--command-timeout", "5s", ...a, "-w", "json"], { stdout: "pipe", stderr: "pipe", env: { ...process.env, ETCDCTL_API: "3" } });
  if (p.exitCode !== 0) throw new Error(p.stderr.toString().trim().split("\n").at(-1));
  return JSON.parse(p.stdout.toString());
}
const voters = (ep: string) => ((etcdctlJson([ep], ["member", "list"]) as { members?: { name?: string; isLearner?: boolean }[] }).members ?? []).filter((m) => m.name && !m.isLearner).length;
const localCount = (ep: string, prefix: string) => Number((etcdctlJson([ep], ["get", prefix, "--prefix", "--keys-only", "--limit", "1", "--consistency", "s"]) as { count?: number }).count ?? 0);
function oneLeader(): boolean {
  const s = etcdctlJson(CPS, ["endpoint", "status"]) as { Status: { leader: number } }[];
  return s.length === 3 && new Set(s.map((x) => x.Status.leader)).size === 1;
}

/** ms until `ok` holds (polled every 100 ms), at most `limit` ms. */
async function timeUntil(what: string, limit: number, ok: () => boolean): Promise<number> {
  const t0 = performance.now();
  let last = "";
  while (performance.now() - t0 < limit) {
    try { if (ok()) return performance.now() - t0; } catch (err) { last = err instanceof Error ? err.message : String(err); }
    await Bun.sleep(100);
  }
  throw new Error(`${what}: not within ${limit / 1000} s${last ? ` (${last})` : ""}`);
}

const nsPids = (n: string) => Bun.spawnSync(["ip", "netns", "pids", n]).stdout.toString().split("\n").filter((x) => x.trim() !== "").map(Number);
function etcdRss(i: number): number {
  for (const p of nsPids(`${ns}-cp${i + 1}`)) {
    try {
      if (readFileSync(`/proc/${p}/comm`, "utf8").trim() === "etcd") return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, "utf8"))?.[1] ?? 0) * 1024;
    } catch { /* gone */ }
  }
  return NaN;
}

function runLoad(netns: string | undefined, endpoint: string, prefix: string): { p50: number; p99: number; seqPerSec: number; parPerSec: number } {
  const argv = [process.execPath, "run", import.meta.path, "--load", endpoint, join(work, "tls.json"), String(PUTS), String(WORKERS), prefix];
  const p = Bun.spawnSync(netns ? ["ip", "netns", "exec", netns, ...argv] : argv, { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`load against ${endpoint}: ${p.stderr.toString().trim()}`);
  return JSON.parse(p.stdout.toString().trim().split("\n").at(-1)!);
}

async function freePort(): Promise<number> {
  return new Promise((r) => { const s = createServer().listen(0, "127.0.0.1", () => { const port = (s.address() as { port: number }).port; s.close(() => r(port)); }); });
}

const lines: string[] = [];
const load0 = loadavg()[0]!;
let solo: ReturnType<typeof Bun.spawn> | undefined;
try {
  const c = ctl("cluster", "create", "--provisioner", "container", "--name", name, "--controlplanes", "3", "--workers", "0", "--no-bootstrap", "--wait", "--wait-timeout", "5m");
  if (c.exitCode !== 0) throw new Error(`cluster create: ${c.stderr.toString()}`);
  const cfg = parse(readFileSync(join(env.BUNKER_CLUSTERS, name, "controlplane.yaml"), "utf8"));
  const unb64 = (s: string) => Buffer.from(s, "base64").toString("utf8");
  const ca: CertAndKey = fromPemPair({ crt: unb64(cfg.cluster.etcd.ca.crt), key: unb64(cfg.cluster.etcd.ca.key) }, "etcd CA");
  const tls = clientTls(ca, "bench");
  writeFileSync(join(work, "tls.json"), JSON.stringify(tls), { mode: 0o600 });
  writeFileSync(join(work, "ca.crt"), tls.ca);
  const cl = issueLeaf(ca, { commonName: "bench-etcdctl", lifetime: 3600_000, usage: ["clientAuth"] });
  writeFileSync(join(work, "client.crt"), certificatePem(cl.certificate));
  writeFileSync(join(work, "client.key"), privateKeyPem(cl.key), { mode: 0o600 });

  // Formation after bootstrap.
  const t0 = performance.now();
  const b = ctl("bootstrap", "-n", CPS[0]!);
  if (b.exitCode !== 0) throw new Error(`bootstrap: ${b.stderr.toString()}`);
  await timeUntil("3 voting members", 240_000, () => voters(CPS[0]!) === 3 && oneLeader());
  const formed = performance.now() - t0;
  console.log(`bootstrap -> 3 voting members, one leader: ${(formed / 1000).toFixed(1)} s`);

  // The last node configured: a reset control plane started again with its config.
  const r = ctl("reset", "--reboot", "-n", CPS[2]!);
  if (r.exitCode !== 0) throw new Error(`reset: ${r.stderr.toString()}`);
  await timeUntil("reset node gone", 120_000, () => nsPids(`${ns}-cp3`).length === 0 && voters(CPS[0]!) === 2);
  const dir = join(env.BUNKER_CLUSTERS, name);
  const t1 = performance.now();
  startContainerNode(dir, loadState(dir)!, `${name}-controlplane-3`, [bin]);
  await timeUntil("3 voting members again", 240_000, () => voters(CPS[0]!) === 3 && oneLeader());
  const rejoined = performance.now() - t1;
  console.log(`reset node started with its config -> 3 voting members: ${(rejoined / 1000).toFixed(1)} s`);

  // Writes through the cluster: to the leader's client URL (a follower would forward each put).
  const st = etcdctlJson(CPS, ["endpoint", "status"]) as { Endpoint: string; Status: { leader: number; header: { member_id: number } } }[];
  const leaderEp = st.find((x) => x.Status.header.member_id === x.Status.leader)!.Endpoint;
  const cluster = runLoad(ns, leaderEp, "bench/");
  console.log(`cluster: ${JSON.stringify(cluster)}`);

  // A single etcd by hand on the host, same TLS, same load.
  const sdir = join(work, "solo");
  mkdirSync(sdir, { recursive: true });
  const [cp, pp] = [await freePort(), await freePort()];
  writeEtcdCerts(join(sdir, "tls"), ca, { hostname: "solo", addresses: ["127.0.0.1"] });
  writeFileSync(join(sdir, "etcd.conf.json"), etcdConfigFile({ name: "solo", dataDir: join(sdir, "data"), certDir: join(sdir, "tls"), address: "127.0.0.1", clientPort: cp, peerPort: pp, state: "new", initialCluster: `solo=${urlOf("127.0.0.1", pp)}` }));
  solo = Bun.spawn([etcdBinary()!, "--config-file", join(sdir, "etcd.conf.json")], { stdout: "ignore", stderr: "ignore" });
  const soloUrl = urlOf("127.0.0.1", cp);
  for (let i = 0; ; i++) { try { await health(soloUrl, tls, 2000); break; } catch (err) { if (i > 100) throw err; await Bun.sleep(200); } }
  const single = runLoad(undefined, soloUrl, "bench/");
  console.log(`single: ${JSON.stringify(single)}`);
  const soloRss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${solo.pid}/status`, "utf8"))?.[1] ?? 0) * 1024;

  const rss = CPS.map((_, i) => etcdRss(i));
  const sizes = etcdctlJson(CPS, ["endpoint", "status"]) as { Endpoint: string; Status: { dbSize: number } }[];
  const db = CPS.map((a) => sizes.find((x) => x.Endpoint === `https://${a}:2379`)?.Status.dbSize ?? NaN);

  // A killed member: N writes while it is down, then the time until it holds them.
  for (const p of nsPids(`${ns}-cp2`)) { try { process.kill(p, "SIGKILL"); } catch { /* gone */ } }
  const rest = [CPS[0]!, CPS[2]!];
  await timeUntil("a leader among two", 60_000, () => {
    const s = etcdctlJson(rest, ["endpoint", "status"]) as { Status: { leader: number } }[];
    return s.every((x) => x.Status.leader !== 0);
  });
  const stNow = etcdctlJson(rest, ["endpoint", "status"]) as { Endpoint: string; Status: { leader: number; header: { member_id: number } } }[];
  const lead2 = stNow.find((x) => x.Status.header.member_id === x.Status.leader)?.Endpoint ?? `https://${rest[0]}:2379`;
  const wr = Bun.spawnSync(["ip", "netns", "exec", ns, process.execPath, "run", import.meta.path, "--load", lead2, join(work, "tls.json"), String(MISSED / 2), "8", "missed/"], { stdout: "pipe", stderr: "pipe" });
  if (wr.exitCode !== 0) throw new Error(`writes while down: ${wr.stderr.toString()}`);
  const want = localCount(rest[0]!, "missed/");
  const t2 = performance.now();
  startContainerNode(dir, loadState(dir)!, `${name}-controlplane-2`, [bin]);
  const caught = await timeUntil("the killed member catches up", 300_000, () => localCount(CPS[1]!, "missed/") === want);
  console.log(`killed member, ${want} writes missed: caught up ${(caught / 1000).toFixed(1)} s after its init started`);


  const mib = (b: number) => (b / 2 ** 20).toFixed(0);
  lines.push(
    `\`bun bench/etcd.ts${args.length ? ` ${args.join(" ")}` : ""}\` as root. Container mode: 3 control planes, each \`bunker init --mode=container\` in its own network`,
    "namespace on one bridge, each running the host's etcd 3.4.23 as Bunker runs it (its own uid, mutual TLS from the etcd CA, ECDSA P-256).",
    "",
    "## Formation",
    "",
    "| what | time |",
    "|---|---|",
    `| \`bunkerctl bootstrap\` on one control plane (all three configured already) -> 3 started voting members, one leader (etcdctl) | ${(formed / 1000).toFixed(1)} s |`,
    `| a reset control plane started again with its config (the last node configured) -> 3 started voting members, one leader | ${(rejoined / 1000).toFixed(1)} s |`,
    "",
    "## Writes from the host",
    "",
    `KV.Put of a 256-byte value over one kept TLS connection (gRPC, core/etcd/client.ts), from the cluster's bridge namespace to the leader's client URL;`,
    `${PUTS} sequential puts for the latency, then ${PUTS} puts from ${WORKERS} connections at once for the throughput. The single etcd is started by hand`,
    "on the host's loopback in the same run, with the same TLS and the same load. QEMU: no column yet; the image does not carry etcd (the signed extension is not done).",
    "",
    "| etcd | put p50 | put p99 | sequential puts/s | puts/s, 16 at once |",
    "|---|---|---|---|---|",
    `| 3 members, container mode | ${cluster.p50.toFixed(2)} ms | ${cluster.p99.toFixed(2)} ms | ${cluster.seqPerSec.toFixed(0)} | ${cluster.parPerSec.toFixed(0)} |`,
    `| 1 member on the host, by hand | ${single.p50.toFixed(2)} ms | ${single.p99.toFixed(2)} ms | ${single.seqPerSec.toFixed(0)} | ${single.parPerSec.toFixed(0)} |`,
    "",
    "## A killed member catching up",
    "",
    `Every process of one control plane SIGKILLed; ${want} puts made through the other two; its init started again (same state dir and config).`,
    `Time from that start to the member holding all ${want} keys itself (etcdctl, serializable count on it): **${(caught / 1000).toFixed(1)} s** (init's own start, etcd's`,
    "start and its catch-up from the leader included).",
    "",
    "## Memory",
    "",
    "| etcd | RSS | database |",
    "|---|---|---|",
    ...CPS.map((a, i) => `| node ${a} | ${mib(rss[i]!)} MiB | ${Number.isFinite(db[i]) ? `${mib(db[i]!)} MiB` : "?"} |`),
    `| single, by hand | ${mib(soloRss)} MiB | |`,
    "",
    `Measured after the load above (about ${3 * PUTS + 20} keys of 256 bytes). Load average (1 min) at the start and the end: ${load0.toFixed(1)} and ${loadavg()[0]!.toFixed(1)}.`,
  );
} finally {
  solo?.kill("SIGKILL");
  Bun.spawnSync([bin, "bunkerctl", "cluster", "destroy", "--name", name], { env });
  rmSync(work, { recursive: true, force: true });
}

writeResults("etcd", "etcd", lines);
