/**
 * gRPC benchmark: unary MachineService.Version over mTLS (Ed25519) on 127.0.0.1, our server
 * (core/grpc on node:http2, under Bun) against a reference server for the same .proto
 * (@grpc/grpc-js + @grpc/proto-loader under Node), in the same run, with the same client (ours,
 * one HTTP/2 connection). Latency p50/p99 and throughput with 1 and 16 concurrent streams, the
 * servers' RSS, and the size each server stack adds to a bundle.
 * Writes bench/results/grpc.md. Usage: bun bench/grpc.ts [--calls N]
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { MachineService as M } from "../core/api/gen/services.ts";
import { GrpcClient } from "../core/grpc/client.ts";
import { TestPki } from "../test/lib/pki.ts";

const root = resolve(import.meta.dir, "..");
const callsArg = process.argv.indexOf("--calls");
const CALLS = callsArg > 0 ? Number(process.argv[callsArg + 1]) : 4000;
const WARMUP = 500;

interface Run { p50: number; p99: number; rps: number }
interface ServerResult { name: string; runtime: string; runs: Record<number, Run>; rssIdle: number; rssAfter: number }

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

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

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
  lat.sort((a, b) => a - b);
  return { p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), rps: lat.length / secs };
}

async function benchServer(name: string, runtime: string, cmd: string[], pki: TestPki): Promise<ServerResult> {
  const { proc, port } = await startServer(cmd);
  await Bun.sleep(200);
  const rssIdle = rssMiB(proc.pid);
  const cc = pki.client(`bench-${name}`, { roles: ["os:admin"] });
  const client = GrpcClient.tls({ address: `127.0.0.1:${port}`, ca: pki.ca.cert, cert: cc.cert, key: cc.key });
  const check = await client.unary(M.Version, {});
  if (check.hostname !== "bench-node") throw new Error(`${name}: unexpected answer ${JSON.stringify(check)}`);
  const runs: Record<number, Run> = {};
  for (const c of [1, 16]) {
    await Promise.all(Array.from({ length: c }, async () => { for (let i = 0; i < WARMUP / c; i++) await client.unary(M.Version, {}); }));
    runs[c] = await measure(client, c);
  }
  const rssAfter = rssMiB(proc.pid);
  client.close();
  (proc.stdin as import("bun").FileSink).end();
  await proc.exited;
  return { name, runtime, runs, rssIdle, rssAfter };
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
  const ours = await benchServer("bunker", `Bun ${Bun.version}`, [bun, "bench/grpc-server.ts", ...certs], pki);
  const nodeVersion = Bun.spawnSync(["node", "--version"]).stdout.toString().trim();
  const ref = await benchServer("grpc-js", `Node ${nodeVersion}`, ["node", "bench/grpc-js-server.mjs", ...certs], pki);
  // The alternative the binary could really ship: grpc-js inside Bun.
  const refBun = await benchServer("grpc-js", `Bun ${Bun.version}`, [bun, "bench/grpc-js-server.mjs", ...certs], pki);

  const grpcJsVersion = JSON.parse(readFileSync(join(root, "node_modules/@grpc/grpc-js/package.json"), "utf8")).version;
  const ourBytes = await bundleSize(`import { GrpcServer } from "${root}/core/grpc/server.ts"; console.log(GrpcServer);`, tmp);
  const [gjs, pl] = ["@grpc/grpc-js", "@grpc/proto-loader"].map((m) => Bun.resolveSync(m, root));
  const refBytes = await bundleSize(`import * as g from "${gjs}"; import * as l from "${pl}"; console.log(g, l);`, tmp);

  const f1 = (n: number) => n.toFixed(1);
  const f3 = (n: number) => n.toFixed(3);
  const rows = [ours, ref, refBun].flatMap((r) => [1, 16].map((c) => {
    const x = r.runs[c]!;
    return `| ${r.name} (${r.runtime}) | ${c} | ${f3(x.p50)} | ${f3(x.p99)} | ${Math.round(x.rps).toLocaleString("en")} |`;
  }));
  const ratio = (c: number, other = ref) => (ours.runs[c]!.rps / other.runs[c]!.rps).toFixed(2);
  const md = [
    "# gRPC: our node:http2 server vs @grpc/grpc-js",
    "",
    `Generated by \`bun bench/grpc.ts\` on ${new Date().toISOString().slice(0, 10)}. Unary \`MachineService.Version\` over`,
    "mutual TLS 1.3 (Ed25519 certificates) on 127.0.0.1; each server in its own process; the same",
    `client (core/grpc, Bun ${Bun.version}, one HTTP/2 connection) for both; ${CALLS} calls per row after ${WARMUP} warm-up calls.`,
    "The machine is shared (2 cores), so absolute figures move between runs; the ratio, measured in",
    "the same run, is the figure to compare.",
    "",
    "| server | concurrent streams | p50 ms | p99 ms | calls/s |",
    "|---|---|---|---|---|",
    ...rows,
    "",
    `Throughput ratio ours / grpc-js under Node: **${ratio(1)}x** with 1 stream, **${ratio(16)}x** with 16 streams.`,
    `Ours / grpc-js under Bun (the alternative for the one binary): ${ratio(1, refBun)}x and ${ratio(16, refBun)}x.`,
    "",
    "| server | RSS idle MiB | RSS after the runs MiB |",
    "|---|---|---|",
    `| ${ours.name} (${ours.runtime}) | ${f1(ours.rssIdle)} | ${f1(ours.rssAfter)} |`,
    `| ${ref.name} (${ref.runtime}) | ${f1(ref.rssIdle)} | ${f1(ref.rssAfter)} |`,
    `| ${refBun.name} (${refBun.runtime}) | ${f1(refBun.rssIdle)} | ${f1(refBun.rssAfter)} |`,
    "",
    "Bundle size of the server stack (minified `Bun.build`, what it adds to the one binary):",
    "",
    `- core/grpc server (+ its framing, metadata, status, core/sys/socket): ${(ourBytes / 1024).toFixed(1)} KiB`,
    `- @grpc/grpc-js ${grpcJsVersion} + @grpc/proto-loader (which brings its own protobufjs): ${(refBytes / 1024).toFixed(1)} KiB`,
    "",
  ].join("\n");
  writeFileSync(join(root, "bench/results/grpc.md"), md);
  console.log(md);
} finally {
  pki.remove();
  rmSync(tmp, { recursive: true, force: true });
}
