/**
 * gRPC benchmark: unary MachineService.Version over mTLS (Ed25519) on 127.0.0.1, our server
 * (core/grpc on node:http2, under Bun) against a reference server for the same .proto
 * (@grpc/grpc-js + @grpc/proto-loader under Node), in the same run, with the same client (ours,
 * one HTTP/2 connection). Latency p50/p99 and throughput with 1 and 16 concurrent streams, the
 * servers' RSS, the size each server stack adds to a bundle, and apid's RSS idle and holding
 * 1,000 concurrent follow streams (needs out/bunker: scripts/build.ts).
 * Writes bench/results/grpc.md. Usage: bun bench/grpc.ts [--calls N]
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MachineService as M } from "../core/api/gen/services.ts";
import { GrpcClient } from "../core/grpc/client.ts";
import { GrpcServer } from "../core/grpc/server.ts";
import { GrpcError, Status } from "../core/grpc/status.ts";
import { TestPki } from "../test/lib/pki.ts";
import { median, percentile, root, writeResults } from "./lib.ts";

const callsArg = process.argv.indexOf("--calls");
const CALLS = callsArg > 0 ? Number(process.argv[callsArg + 1]) : 4000;
const WARMUP = 500;
const ROUNDS = 3;

interface Run { p50: number; p99: number; rps: number }
interface ServerResult { name: string; runtime: string; runs: Record<number, Run>; rssIdle: number; rssAfter: number; cpuUsPerCall: number }

/** CPU time (user + system) a process has used, in ms, from /proc/PID/stat (10 ms ticks). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10; // utime, stime (fields 14, 15) at 100 Hz
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function startServer(cmd: string[]): Promise<{ proc: ReturnType<typeof Bun.spawn>; port: number }> {
  const proc = Bun.spawn(cmd, { cwd: root, stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  let out = "";
  while (!/PORT \d+/.test(out)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${cmd.join(" ")} exited before listening: ${out}`);
    out += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return { proc, port: Number(/PORT (\d+)/.exec(out)![1]) };
}


async function measure(client: GrpcClient, concurrency: number): Promise<Run> {
  const lat: number[] = [];
  let next = 0;
  const worker = async () => {
    while (next < CALLS) {
      next++;
      const t = performance.now();
      await client.unary(M.Version, {});
      lat.push(performance.now() - t);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const secs = (performance.now() - t0) / 1000;
  return { p50: percentile(lat, 50), p99: percentile(lat, 99), rps: lat.length / secs };
}

interface Contender { name: string; runtime: string; proc: ReturnType<typeof Bun.spawn>; client: GrpcClient; rounds: Record<number, Run[]>; rssIdle: number; cpuMs: number }

async function startContender(name: string, runtime: string, cmd: string[], pki: TestPki): Promise<Contender> {
  const { proc, port } = await startServer(cmd);
  await Bun.sleep(200);
  const rssIdle = rssMiB(proc.pid);
  const cc = pki.client(`bench-${name}-${runtime.split(" ")[0]}`, { roles: ["os:admin"] });
  const client = GrpcClient.tls({ address: `127.0.0.1:${port}`, ca: pki.ca.cert, cert: cc.cert, key: cc.key });
  const check = await client.unary(M.Version, {});
  if (check.hostname !== "bench-node") throw new Error(`${name}: unexpected answer ${JSON.stringify(check)}`);
  for (const c of [1, 16]) {
    await Promise.all(Array.from({ length: c }, async () => { for (let i = 0; i < WARMUP / c; i++) await client.unary(M.Version, {}); }));
  }
  return { name, runtime, proc, client, rounds: { 1: [], 16: [] }, rssIdle, cpuMs: 0 };
}

/** Median of each figure over the rounds (robust to a noisy neighbour during one round). */
function medianRun(runs: Run[]): Run {
  return { p50: median(runs.map((r) => r.p50)), p99: median(runs.map((r) => r.p99)), rps: median(runs.map((r) => r.rps)) };
}

/** Runs ROUNDS rounds, each measuring every contender in turn, so drift hits all alike. */
async function benchAll(contenders: Contender[]): Promise<ServerResult[]> {
  for (let r = 0; r < ROUNDS; r++) {
    for (const k of contenders) {
      const cpu0 = cpuMs(k.proc.pid);
      for (const c of [1, 16]) k.rounds[c]!.push(await measure(k.client, c));
      k.cpuMs += cpuMs(k.proc.pid) - cpu0;
    }
  }
  const out: ServerResult[] = [];
  for (const k of contenders) {
    const rssAfter = rssMiB(k.proc.pid);
    k.client.close();
    (k.proc.stdin as import("bun").FileSink).end();
    await k.proc.exited;
    out.push({ name: k.name, runtime: k.runtime, runs: { 1: medianRun(k.rounds[1]!), 16: medianRun(k.rounds[16]!) }, rssIdle: k.rssIdle, rssAfter, cpuUsPerCall: (k.cpuMs * 1000) / (ROUNDS * 2 * CALLS) });
  }
  return out;
}

/**
 * apid (the compiled binary) in front of a stub init on a unix socket: its RSS idle, and while
 * holding `streams` concurrent `logs -f` calls spread over 10 client connections.
 */
async function apidStreams(pki: TestPki, dir: string, streams: number): Promise<{ idle: number; holding: number; held: number }> {
  const bin = join(root, "out/bunker");
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run scripts/build.ts first`);
  const sock = join(dir, "init.sock");
  // As init's socket does: apid carries every caller over one connection to it.
  const backend = new GrpcServer({ maxConcurrentStreams: 4096 }).handle(M.Logs, async function* (_r, ctx) {
    yield { message: "started" };
    await new Promise((r) => ctx.signal.addEventListener("abort", r, { once: true }));
  });
  await backend.listenUnix(sock);
  const sc = pki.server("apid");
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  const proc = Bun.spawn([bin, "apid", "--listen", `127.0.0.1:${port}`, "--cert", sc.certPath, "--key", sc.keyPath, "--ca", pki.ca.certPath, "--backend", sock], { stderr: "pipe" });
  const cc = pki.client("bench-streams", { roles: ["os:reader"] });
  const clients = Array.from({ length: 10 }, () => GrpcClient.tls({ address: `127.0.0.1:${port}`, ca: pki.ca.cert, cert: cc.cert, key: cc.key }));
  const ac = new AbortController();
  try {
    for (let i = 0; i < 100; i++) {
      if (await clients[0]!.unary(M.Version, {}, { timeoutMs: 1000 }).then(() => true, (e) => !(e instanceof GrpcError && e.code === Status.UNAVAILABLE))) break;
      await Bun.sleep(50);
    }
    await Bun.sleep(300);
    const idle = rssMiB(proc.pid);
    const iters = Array.from({ length: streams }, (_, i) => clients[i % clients.length]!.stream(M.Logs, { id: "x", follow: true }, { signal: ac.signal }));
    const firsts = await Promise.all(iters.map((it) => it.next()));
    const held = firsts.filter((r) => r.value?.message === "started").length;
    await Bun.sleep(300);
    const holding = rssMiB(proc.pid);
    return { idle, holding, held };
  } finally {
    ac.abort();
    for (const c of clients) c.close();
    proc.kill("SIGTERM");
    await proc.exited;
    await backend.close();
  }
}

/** Bytes a minified bundle of `entry` takes (what the server stack adds to the binary). */
async function bundleSize(entry: string, dir: string): Promise<number> {
  const file = join(dir, "entry.ts");
  writeFileSync(file, entry);
  const out = await Bun.build({ entrypoints: [file], target: "bun", minify: true, root });
  if (!out.success) throw new Error(`bundle failed: ${out.logs.join("\n")}`);
  return (await out.outputs[0]!.arrayBuffer()).byteLength;
}

const pki = new TestPki();
const sc = pki.server();
const tmp = mkdtempSync(join(tmpdir(), "bunker-bench-"));
try {
  const certs = [pki.ca.certPath, sc.certPath, sc.keyPath];
  const bun = join(root, "node_modules/.bin/bun");
  const nodeVersion = Bun.spawnSync(["node", "--version"]).stdout.toString().trim();
  const [ours, ref, refBun] = await benchAll([
    await startContender("bunker", `Bun ${Bun.version}`, [bun, "bench/grpc-server.ts", ...certs], pki),
    await startContender("grpc-js", `Node ${nodeVersion}`, ["node", "bench/grpc-js-server.mjs", ...certs], pki),
    // The alternative the binary could really ship: grpc-js inside Bun.
    await startContender("grpc-js", `Bun ${Bun.version}`, [bun, "bench/grpc-js-server.mjs", ...certs], pki),
  ]) as [ServerResult, ServerResult, ServerResult];

  const grpcJsVersion = JSON.parse(readFileSync(join(root, "node_modules/@grpc/grpc-js/package.json"), "utf8")).version;
  const ourBytes = await bundleSize(`import { GrpcServer } from "${root}/core/grpc/server.ts"; console.log(GrpcServer);`, tmp);
  const STREAMS = 1000;
  const apid = await apidStreams(pki, tmp, STREAMS);

  const [gjs, pl] = ["@grpc/grpc-js", "@grpc/proto-loader"].map((m) => Bun.resolveSync(m, root));
  const refBytes = await bundleSize(`import * as g from "${gjs}"; import * as l from "${pl}"; console.log(g, l);`, tmp);

  const f1 = (n: number) => n.toFixed(1);
  const f3 = (n: number) => n.toFixed(3);
  const rows = [ours, ref, refBun].flatMap((r) => [1, 16].map((c) => {
    const x = r.runs[c]!;
    return `| ${r.name} (${r.runtime}) | ${c} | ${f3(x.p50)} | ${f3(x.p99)} | ${Math.round(x.rps).toLocaleString("en")} |`;
  }));
  const ratio = (c: number, other = ref) => (ours.runs[c]!.rps / other.runs[c]!.rps).toFixed(2);
  writeResults("grpc", "gRPC: our node:http2 server vs @grpc/grpc-js", [
    "Generated by `bun bench/grpc.ts` (needs out/bunker for the apid figures). Unary `MachineService.Version` over",
    "mutual TLS 1.3 (Ed25519 certificates) on 127.0.0.1; each server in its own process; the same",
    `client (core/grpc, Bun ${Bun.version}, one HTTP/2 connection per server); ${CALLS} calls per measurement after ${WARMUP}`,
    `warm-up calls; ${ROUNDS} rounds, each measuring every server in turn, and each figure is the median of the rounds.`,
    "The machine is shared (2 cores, other work running), so absolute figures move between runs;",
    "compare servers within one run.",
    "",
    "| server | concurrent streams | p50 ms | p99 ms | calls/s |",
    "|---|---|---|---|---|",
    ...rows,
    "",
    `Throughput ratio ours / grpc-js under Node: **${ratio(1)}x** with 1 stream, **${ratio(16)}x** with 16 streams.`,
    `Ours / grpc-js under Bun (the alternative for the one binary): ${ratio(1, refBun)}x and ${ratio(16, refBun)}x.`,
    "",
    "Server CPU time per call (user + system of the server process over every measured call; this",
    "depends far less on the neighbours' load than calls/s does):",
    "",
    ...[ours, ref, refBun].map((r) => `- ${r.name} (${r.runtime}): ${r.cpuUsPerCall.toFixed(0)} µs`),
    "",
    "| server | RSS idle MiB | RSS after the runs MiB |",
    "|---|---|---|",
    `| ${ours.name} (${ours.runtime}) | ${f1(ours.rssIdle)} | ${f1(ours.rssAfter)} |`,
    `| ${ref.name} (${ref.runtime}) | ${f1(ref.rssIdle)} | ${f1(ref.rssAfter)} |`,
    `| ${refBun.name} (${refBun.runtime}) | ${f1(refBun.rssIdle)} | ${f1(refBun.rssAfter)} |`,
    "",
    `apid (the compiled binary out/bunker, in front of a stub init on a unix socket): RSS ${f1(apid.idle)} MiB idle,`,
    `${f1(apid.holding)} MiB while holding ${apid.held} of ${STREAMS} concurrent \`logs -f\` streams (10 client connections).`,
    "",
    "Bundle size of the server stack (minified `Bun.build`, what it adds to the one binary):",
    "",
    `- core/grpc server (+ its framing, metadata, status, core/sys/socket): ${(ourBytes / 1024).toFixed(1)} KiB`,
    `- @grpc/grpc-js ${grpcJsVersion} + @grpc/proto-loader (which brings its own protobufjs): ${(refBytes / 1024).toFixed(1)} KiB`,
  ]);
} finally {
  pki.remove();
  rmSync(tmp, { recursive: true, force: true });
}
