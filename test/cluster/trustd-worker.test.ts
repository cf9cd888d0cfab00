/**
 * A control plane and a worker on loopback (two `bunker init --mode=container` processes): the
 * worker asks the control plane's trustd for its apid certificate with the join token, serves it
 * (openssl verifies it against the cluster CA), is reachable through the control plane (relayed)
 * and directly; a wrong token is refused and recorded as an event without the token; with its
 * control plane gone, the worker keeps its certificate and says why in MachineStatus.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { SecurityService } from "../../core/api/gen/services.ts";
import { GrpcClient } from "../../core/grpc/client.ts";
import { Status } from "../../core/grpc/status.ts";
import { createCsr } from "../../core/pki/csr.ts";
import { generateKey } from "../../core/pki/keys.ts";
import { freePort, generateCluster, startNode, type Node } from "../lib/container-node.ts";
import { ctl } from "../lib/remote-cluster.ts";
import { eventually as within } from "../lib/eventually.ts";

/** Lifetime of what trustd signs here: renewals every 10 s, so a failed one shows quickly. */
const LIFETIME_S = 20;

let cp: Node;
let worker: Node;
let trustdPort = 0;
let cluster: ReturnType<typeof generateCluster>;
let admin = "";
let token = "";
const at = (p: number) => `127.0.0.1:${p}`;

async function eventually<T>(what: string, fn: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  let v: T | undefined;
  let last: unknown;
  const got = await within(async () => {
    try { return (v = await fn()) !== undefined; } catch (err) { last = err; return false; }
  }, ms, 250);
  if (got) return v!;
  throw new Error(`${what}: not within ${ms} ms${last ? ` (${(last as Error).message})` : ""}`);
}

function openssl(port: number): { ok: boolean; out: string; serial: string } {
  const p = Bun.spawnSync(["openssl", "s_client", "-connect", at(port), "-CAfile", cluster.admin.caPath, "-verify_return_error", "-verify_ip", "127.0.0.1",
    "-cert", cluster.admin.crtPath, "-key", cluster.admin.keyPath, "-brief"], { stdin: new TextEncoder().encode("Q\n"), stdout: "pipe", stderr: "pipe" });
  const out = p.stdout.toString() + p.stderr.toString();
  const s = Bun.spawnSync(["sh", "-c", `openssl s_client -connect ${at(port)} -cert ${cluster.admin.crtPath} -key ${cluster.admin.keyPath} </dev/null 2>/dev/null | openssl x509 -noout -serial`], { stdout: "pipe" });
  return { ok: /Verification: OK/.test(out), out, serial: s.stdout.toString().trim() };
}

async function machineStatus(node: Node): Promise<{ ready: boolean; unmetConditions: { name: string; reason: string }[] }> {
  const r = await ctl(admin, "get", "machinestatus", "-o", "yaml", "-e", at(node.port), "-n", at(node.port));
  if (r.code !== 0) throw new Error(r.err);
  const doc = parse(r.out) as { spec: { ready: boolean; unmetConditions: { name: string; reason: string }[] } };
  return doc.spec;
}

beforeAll(async () => {
  const cpPort = await freePort();
  trustdPort = await freePort();
  cluster = generateCluster(cpPort);
  chmodSync(cluster.dir, 0o755);
  admin = join(cluster.dir, "bunkerconfig");
  token = (parse(readFileSync(cluster.worker, "utf8")) as { machine: { token: string } }).machine.token;
  cp = await startNode(cpPort, ["--config", cluster.controlplane, "--trustd-listen", at(trustdPort), "--cert-lifetime", String(LIFETIME_S)]);
  worker = await startNode(await freePort(), ["--config", cluster.worker, "--trustd-port", String(trustdPort)]);
}, 60_000);

afterAll(async () => {
  await worker?.stop();
  await cp?.stop();
});

test("the worker serves a certificate trustd signed, which openssl verifies against the cluster CA", async () => {
  const r = await eventually("worker certificate verified", async () => { const o = openssl(worker.port); return o.ok ? o : undefined; });
  expect(r.out).toContain("Verification: OK");
  const text = Bun.spawnSync(["sh", "-c", `openssl s_client -connect ${at(worker.port)} -cert ${cluster.admin.crtPath} -key ${cluster.admin.keyPath} </dev/null 2>/dev/null | openssl x509 -noout -text`], { stdout: "pipe" }).stdout.toString();
  expect(text).toContain("TLS Web Server Authentication, TLS Web Client Authentication");
  expect(text).toContain("CA:FALSE");
  expect(text).not.toMatch(/Subject:.*O ?=/);
  expect(text).toContain("IP Address:127.0.0.1");
  const st = await machineStatus(worker);
  expect(st.unmetConditions.filter((c) => c.name === "apid certificate")).toEqual([]);
}, 60_000);

test("bunkerctl reaches the worker directly with the cluster CA, and relayed through the control plane", async () => {
  const direct = await ctl(admin, "version", "-o", "json", "-e", at(worker.port), "-n", at(worker.port));
  expect(direct.err).toBe("");
  expect(direct.code).toBe(0);
  const relayed = await ctl(admin, "version", "-o", "json", "-e", at(cp.port), "-n", at(worker.port));
  expect(relayed.err).toBe("");
  expect(JSON.parse(relayed.out)).toEqual([expect.objectContaining({ node: at(worker.port), maintenance: false })]);
}, 60_000);

test("a wrong token is refused, and the control plane records it as an event without the token", async () => {
  const client = GrpcClient.tls({ address: at(trustdPort), ca: cluster.admin.ca });
  const csr = createCsr({ subject: { commonName: "intruder", organizations: ["os:admin"] }, key: generateKey("ed25519") }).der;
  const wrong = `${token.slice(0, -1)}${token.endsWith("0") ? "1" : "0"}`;
  try {
    const e1 = await client.unary(SecurityService.Certificate, { csr }, { metadata: { token: wrong } }).then(() => undefined, (e: { code: number }) => e);
    expect(e1?.code).toBe(Status.UNAUTHENTICATED);
    const e2 = await client.unary(SecurityService.Certificate, { csr }).then(() => undefined, (e: { code: number }) => e);
    expect(e2?.code).toBe(Status.UNAUTHENTICATED);
  } finally {
    client.close();
  }
  const events = await eventually("refusal event", async () => {
    const r = await ctl(admin, "get", "events", "-o", "yaml", "-e", at(cp.port), "-n", at(cp.port));
    // YAML folds long messages: compare with the line breaks gone.
    const text = r.out.replace(/\s+/g, " ");
    return /refused .* from 127\.0\.0\.1: (wrong join token|no join token)/.test(text) ? text : undefined;
  });
  expect(events).not.toContain(wrong);
  expect(events).not.toContain(token);
  expect(events).toMatch(/signed a node certificate for .* requested from 127\.0\.0\.1/);
}, 60_000);

test("the control plane lists the worker it signed for at its apid address (TrustdNodes), for relaying", async () => {
  const r = await eventually("TrustdNodes", async () => {
    const g = await ctl(admin, "get", "trustdnodes", "-o", "yaml", "-e", at(cp.port), "-n", at(cp.port));
    return g.out.includes(`address: ${at(worker.port)}`) ? g : undefined;
  });
  expect(r.code).toBe(0);
});

test("the CA key reaches trustd through a file only its uid reads, and no resource", async () => {
  const st = statSync(join(cp.dir, "trustd", "secrets.json"));
  expect(st.mode & 0o777).toBe(0o400);
  if (process.getuid?.() === 0) expect(st.uid).toBe(51);
  expect(statSync(join(cp.dir, "trustd")).mode & 0o777).toBe(0o700);
  const all = await ctl(admin, "get", "trustd", "-o", "yaml", "-e", at(cp.port), "-n", at(cp.port));
  expect(all.code).toBe(0);
  expect(all.out).toContain("issued:");
  expect(all.out).not.toContain(token);
  expect(all.out).not.toContain("PRIVATE KEY");
});

test("the worker renews its certificate at half its life", async () => {
  const first = openssl(worker.port).serial;
  const renewed = await eventually("a new serial", async () => { const o = openssl(worker.port); return o.ok && o.serial !== first ? o : undefined; }, LIFETIME_S * 1000 + 10_000);
  expect(renewed.out).toContain("Verification: OK");
}, 60_000);

test("with its control plane down, the worker keeps its certificate and MachineStatus names the control plane and why", async () => {
  const before = openssl(worker.port);
  expect(before.ok).toBe(true);
  await cp.stop();
  const cond = await eventually("unmet condition", async () => {
    const st = await machineStatus(worker);
    return st.unmetConditions.find((c) => c.name === "apid certificate");
  }, LIFETIME_S * 1000 + 20_000);
  expect(cond.reason).toContain(`trustd at ${at(trustdPort)}`);
  expect(cond.reason).toMatch(/UNAVAILABLE/);
  expect(cond.reason).toContain("serving the certificate trustd signed until");
  const after = openssl(worker.port);
  expect(after.serial).toBe(before.serial);
  expect(after.ok).toBe(true);
}, 90_000);
