/**
 * The whole API path on a host: init in container mode runs apid (--api-listen), and clients
 * come in over mTLS with the credentials `bunkerctl gen config` made. Debian's python3-grpcio is
 * the client for the RPC scenarios; maintenance mode takes an unauthenticated config and
 * refuses the rest; a certificate renewal at half-life keeps an open Logs stream going.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect as tlsConnect } from "node:tls";
import { join } from "node:path";
import { MachineService } from "../core/api/gen/services.ts";
import { GrpcClient } from "../core/grpc/client.ts";
import { loadCertificate } from "../core/pki/x509.ts";
import { getSpec, initClient } from "../services/init/api/client.ts";
import type { MachineStatusSpec } from "../services/init/resources.ts";
import { freePort, generateCluster, startNode, type Credentials, type Node } from "./lib/container-node.ts";
import { generateStubs, havePythonGrpc, runPython } from "./lib/python-grpc.ts";
import { rejection } from "./lib/rejection.ts";
import { eventually } from "./lib/eventually.ts";

const have = havePythonGrpc();
if (!have) console.warn("init api: python scenarios skipped, python3-grpcio/python3-grpc-tools missing (scripts/deps.sh installs them)");

let cluster: ReturnType<typeof generateCluster>;
let stubs = "";
const nodes: Node[] = [];
const ticker = (dir: string) => {
  const f = join(dir, "ticker.json");
  writeFileSync(f, JSON.stringify([{ id: "ticker", argv: ["/bin/sh", "-c", "i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.2; done"] }]));
  return f;
};

beforeAll(() => {
  cluster = generateCluster(50000);
  if (have) stubs = generateStubs();
});
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  rmSync(cluster.dir, { recursive: true, force: true });
  if (stubs) rmSync(stubs, { recursive: true, force: true });
});

const tlsClient = (port: number, c: Credentials) => GrpcClient.tls({ address: `127.0.0.1:${port}`, ca: c.ca, cert: c.crt, key: c.key });

test.skipIf(!have)("python3-grpcio through apid over mTLS: Version, ServiceList, Logs, a deadline, a dry run, errors", async () => {
  const port = await freePort();
  const node = await startNode(port, ["--config", cluster.controlplane, "--services", ticker(cluster.dir)]);
  nodes.push(node);
  const dry = join(cluster.dir, "dry.yaml");
  writeFileSync(dry, readFileSync(cluster.controlplane, "utf8").replace(/^machine:\n/m, "machine:\n  network:\n    hostname: renamed\n"));
  // The client asks for the last 3 lines of the ticker's log: wait until it has written them.
  const local = initClient(node.socket);
  const ticks = async () => (await Array.fromAsync(local.stream(MachineService.Logs, { id: "ticker", tail: -1 }))).length;
  expect(await eventually(async () => (await ticks()) >= 3, 10_000)).toBe(true);
  const r = await runPython(stubs, "node_client.py", ["--target", `127.0.0.1:${port}`, "--ca", cluster.admin.caPath,
    "--cert", cluster.admin.crtPath, "--key", cluster.admin.keyPath, "--config", dry]);
  expect(r.stderr).toBe("");
  const out = JSON.parse(r.stdout);
  expect(out.version).toMatchObject({ maintenance: false, bun: Bun.version });
  expect(out.services).toMatchObject({ apid: "Running", ticker: "Running" });
  expect(out.logs.lines).toHaveLength(3);
  for (const l of out.logs.lines) expect(l).toMatch(/^tick \d+$/);
  expect(out.deadline.error.code).toBe("DEADLINE_EXCEEDED");
  expect(out.deadline.got).toBeGreaterThan(0); // lines came before the deadline ended the stream
  expect(out.dry_run).toEqual({ mode: "APPLY_MODE_LIVE", changes: [{ path: "machine.network.hostname", effect: "CHANGE_EFFECT_LIVE" }] });
  expect(out.bad_config.error.code).toBe("INVALID_ARGUMENT");
  expect(out.bad_config.error.details).toContain("machine.type");
  expect(out.error.error.code).toBe("NOT_FOUND");
  // The dry run changed nothing.
  expect((await getSpec<{ hostname: string }>(local, "hostname", "hostname"))?.hostname).not.toBe("renamed");
  local.close();
}, 60_000);

test.skipIf(!have)("maintenance mode: no client certificate, ApplyConfiguration accepted, Reboot refused; then the node boots with mTLS", async () => {
  const port = await freePort();
  const node = await startNode(port);
  nodes.push(node);
  const selfSigned = join(node.dir, "apid", "server.crt");
  const r = await runPython(stubs, "node_client.py", ["--target", `127.0.0.1:${port}`, "--ca", selfSigned, "--maintenance", "--config", cluster.controlplane]);
  expect(r.stderr).toBe("");
  const out = JSON.parse(r.stdout);
  expect(out.version.maintenance).toBe(true);
  expect(out.reboot.error).toMatchObject({ code: "PERMISSION_DENIED" });
  expect(out.reboot.error.details).toContain("not available in maintenance mode");
  expect(out.services.error.code).toBe("PERMISSION_DENIED");
  expect(out.apply.mode).toBe("APPLY_MODE_LIVE");
  expect(node.proc.exitCode).toBeNull(); // the refused Reboot did nothing

  const local = initClient(node.socket);
  expect(await getSpec<MachineStatusSpec>(local, "machinestatus", "machine")).toMatchObject({ stage: "running" });
  // apid restarts out of maintenance with certificates from machine.ca: the admin certificate works.
  let v: { maintenance?: boolean | null } | undefined;
  await eventually(async () => {
    const c = tlsClient(port, cluster.admin);
    try { v = await c.unary(MachineService.Version, {}, { timeoutMs: 2000 }); } catch { /* not restarted yet */ } finally { c.close(); }
    return v !== undefined;
  }, 15_000);
  expect(v?.maintenance).toBe(false);
  local.close();
}, 60_000);

/** The serial of the certificate a TLS server presents to a new connection. */
async function servedSerial(port: number, c: Credentials): Promise<string> {
  return await new Promise((resolve, reject) => {
    const s = tlsConnect({ host: "127.0.0.1", port, ca: c.ca, cert: c.crt, key: c.key, ALPNProtocols: ["h2"], servername: "localhost" }, () => {
      resolve(s.getPeerCertificate().serialNumber.toUpperCase().replace(/^0+/, ""));
      s.destroy();
    });
    s.once("error", reject);
  });
}

test("renewal at half-life: new certificates on disk and on new connections, an open Logs stream goes on", async () => {
  const port = await freePort();
  const node = await startNode(port, ["--config", cluster.controlplane, "--services", ticker(cluster.dir), "--cert-lifetime", "4"]);
  nodes.push(node);
  const certFile = join(node.dir, "apid", "server.crt");
  const serialOnDisk = () => loadCertificate(readFileSync(certFile, "utf8")).serial.toUpperCase();
  const first = serialOnDisk();
  expect(await servedSerial(port, cluster.admin)).toBe(first);

  const c = tlsClient(port, cluster.admin);
  const seen: { line: string; serial: string }[] = [];
  const stream = (async () => {
    for await (const e of c.stream(MachineService.Logs, { id: "ticker", tail: 0, follow: true }, { timeoutMs: 20_000 })) {
      seen.push({ line: e.message ?? "", serial: serialOnDisk() });
      if (seen.filter((s) => s.serial !== first).length >= 5) break;
    }
  })();
  await stream; // ends only once 5 lines arrived after the renewal, on the connection opened before it
  c.close();
  expect(seen.some((s) => s.serial === first)).toBe(true);
  const renewed = serialOnDisk();
  expect(renewed).not.toBe(first);
  expect(await servedSerial(port, cluster.admin)).toBe(renewed);

  const local = initClient(node.socket);
  const apidLog = (await Array.fromAsync(local.stream(MachineService.Logs, { id: "apid", tail: -1 }))).map((e) => e.message);
  expect(apidLog).toContain("apid: credentials reloaded");
  const svc = (await local.unary(MachineService.ServiceList, {})).services!.find((s) => s.id === "apid")!;
  expect(svc.restarts ?? 0).toBe(0); // reloaded, not restarted
  local.close();
}, 60_000);

test("GenerateClientConfiguration: an admin mints a reader's bunkerconfig that works, within its roles", async () => {
  const port = await freePort();
  const node = await startNode(port, ["--config", cluster.controlplane]);
  nodes.push(node);
  const admin = tlsClient(port, cluster.admin);
  const r = await admin.unary(MachineService.GenerateClientConfiguration, { roles: ["os:reader"], ttlSeconds: 3600 });
  const dec = (b: Uint8Array | null | undefined) => new TextDecoder().decode(b ?? new Uint8Array());
  const crtFile = join(cluster.dir, "reader.crt");
  writeFileSync(crtFile, dec(r.crt));
  const x = Bun.spawnSync(["openssl", "x509", "-in", crtFile, "-noout", "-subject", "-ext", "extendedKeyUsage", "-dates"]).stdout.toString();
  expect(x).toContain("O = os:reader");
  expect(x).toContain("TLS Web Client Authentication");
  const notAfter = Date.parse(/notAfter=(.*)/.exec(x)![1]!);
  expect(Math.abs(notAfter - (Date.now() + 3600_000))).toBeLessThan(120_000);
  expect(Bun.spawnSync(["openssl", "verify", "-CAfile", cluster.admin.caPath, crtFile]).exitCode).toBe(0);
  const yaml = dec(r.bunkerconfig);
  expect(yaml).toContain("context: demo");

  const reader = tlsClient(port, { ...cluster.admin, crt: dec(r.crt), key: dec(r.key), ca: dec(r.ca) });
  expect((await reader.unary(MachineService.Version, {})).maintenance).toBe(false);
  expect(await rejection(reader.unary(MachineService.Reboot, {}))).toMatchObject({ details: "Reboot needs one of os:admin, os:operator; the caller has os:reader" });
  expect(await rejection(reader.unary(MachineService.GenerateClientConfiguration, { roles: ["os:admin"] }))).toMatchObject({ code: 7 });
  expect(await rejection(admin.unary(MachineService.GenerateClientConfiguration, { roles: ["os:impersonator"] }))).toMatchObject({ code: 3 });
  expect(await rejection(admin.unary(MachineService.GenerateClientConfiguration, { roles: [] }))).toMatchObject({ code: 3 });
  reader.close();
  admin.close();
}, 60_000);
