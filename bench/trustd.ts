/**
 * trustd's certificate issue latency and throughput, on loopback: the compiled binary's trustd
 * personality with a fresh CA and token, asked by in-process clients as a worker asks (new key,
 * CSR, join token in the metadata, trustd's certificate checked against the CA). Bounded loops.
 * Usage: bun bench/trustd.ts [--requests N] [--clients C]
 * Writes the "trustd" section of bench/results/cluster.md (other sections of that file are kept).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { SecurityService } from "../core/api/gen/services.ts";
import { GrpcClient } from "../core/grpc/client.ts";
import { createCsr } from "../core/pki/csr.ts";
import { newClusterCA, toPemPair } from "../core/pki/issue.ts";
import { generateKey } from "../core/pki/keys.ts";
import { median, percentile, root, writeSection } from "./lib.ts";

const args = process.argv.slice(2);
const requests = Number(args[args.indexOf("--requests") + 1] ?? 0) || 300;
const clients = Number(args[args.indexOf("--clients") + 1] ?? 0) || 8;
const bin = resolve(root, "out/bunker");
if (!existsSync(bin)) throw new Error("out/bunker is missing: run `node_modules/.bin/bun scripts/build.ts`");

const TOKEN = "abcdef.0123456789abcdef";
const ca = newClusterCA();
const caPem = toPemPair(ca).crt;
const dir = mkdtempSync(join(tmpdir(), "bunker-bench-trustd-"));
const secrets = join(dir, "secrets.json");
writeFileSync(secrets, JSON.stringify({ ca: toPemPair(ca), token: TOKEN, reserved: [], hostname: "cp", sans: ["127.0.0.1"] }), { mode: 0o400 });
const port = await new Promise<number>((r) => { const s = createServer(); s.listen(0, "127.0.0.1", () => { const p = (s.address() as { port: number }).port; s.close(() => r(p)); }); });
const proc = Bun.spawn([bin, "trustd", "--listen", `127.0.0.1:${port}`, "--secrets", secrets], { stdout: "ignore", stderr: "pipe" });

const csrFor = () => createCsr({ subject: { commonName: "worker", organizations: [] }, key: generateKey("ed25519"), altNames: { ips: ["10.5.0.7"] } }).der;
const call = (c: GrpcClient, csr: Uint8Array) => c.unary(SecurityService.Certificate, { csr }, { metadata: { token: TOKEN }, timeoutMs: 10_000 });

try {
  // Wait (bounded) for trustd to answer.
  for (let i = 0; ; i++) {
    const c = GrpcClient.tls({ address: `127.0.0.1:${port}`, ca: caPem });
    try { await call(c, csrFor()); break; } catch (err) { if (i > 100) throw err; await Bun.sleep(100); } finally { c.close(); }
  }

  // A worker's view: new key and CSR, new connection (TCP + TLS 1.3), one call.
  const cold: number[] = [];
  for (let i = 0; i < Math.min(requests, 100); i++) {
    const t0 = performance.now();
    const c = GrpcClient.tls({ address: `127.0.0.1:${port}`, ca: caPem });
    await call(c, csrFor());
    c.close();
    cold.push(performance.now() - t0);
  }
  // Signing alone: one connection, CSRs made beforehand.
  const csrs = Array.from({ length: requests }, csrFor);
  const warm: number[] = [];
  const one = GrpcClient.tls({ address: `127.0.0.1:${port}`, ca: caPem });
  for (const csr of csrs) { const t0 = performance.now(); await call(one, csr); warm.push(performance.now() - t0); }
  one.close();
  // Throughput: C clients, each on its own connection, sharing `requests` calls.
  const pool = Array.from({ length: clients }, () => GrpcClient.tls({ address: `127.0.0.1:${port}`, ca: caPem }));
  let next = 0;
  const t0 = performance.now();
  await Promise.all(pool.map(async (c) => { while (next < csrs.length) await call(c, csrs[next++]!); }));
  const tput = (csrs.length * 1000) / (performance.now() - t0);
  for (const c of pool) c.close();
  const rss = (() => { try { return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${proc.pid}/status`, "utf8"))?.[1]) * 1024; } catch { return NaN; } })();

  const f = (x: number) => x.toFixed(2);
  const section = [
    "<!-- trustd: written by bench/trustd.ts -->",
    "## trustd: certificate issue latency and throughput",
    "",
    `Measured ${new Date().toISOString().slice(0, 10)} on ${navigator.hardwareConcurrency} cores, Bun ${Bun.version}; \`bun bench/trustd.ts --requests ${requests} --clients ${clients}\`:`,
    "the compiled binary's trustd on 127.0.0.1, Ed25519 CA, clients in one Bun process (so client work is in the figures).",
    "",
    "| what | median | p95 |",
    "|---|---|---|",
    `| a worker's request: new key + CSR, new TCP + TLS 1.3 connection, Certificate (${cold.length} in a row) | ${f(median(cold))} ms | ${f(percentile(cold, 95))} ms |`,
    `| Certificate on an open connection, CSR made beforehand (${warm.length} in a row) | ${f(median(warm))} ms | ${f(percentile(warm, 95))} ms |`,
    "",
    `Throughput: ${Math.round(tput)} certificates/s with ${clients} concurrent connections (${requests} requests). trustd's peak RSS: ${(rss / 1e6).toFixed(1)} MB.`,
    "<!-- /trustd -->",
  ].join("\n");
  writeSection("cluster", "Cluster", "trustd", section);
} finally {
  proc.kill("SIGTERM");
  await proc.exited;
  rmSync(dir, { recursive: true, force: true });
}
