/**
 * The apid personality of the compiled binary (scripts/test.sh builds out/bunker first): it
 * serves, reloads its certificate on SIGHUP without dropping an open stream, and stops on SIGTERM.
 */
import { afterAll, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import tls from "node:tls";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { MachineService as M } from "../../core/api/gen/services.ts";
import { GrpcClient } from "../../core/grpc/client.ts";
import { GrpcServer } from "../../core/grpc/server.ts";
import { eventually, sleep } from "../../test/lib/fixture-server.ts";
import { TestPki } from "../../test/lib/pki.ts";
import { GrpcError, statusName } from "../../core/grpc/status.ts";
import { Gateway } from "./gateway.ts";

const bin = resolve(import.meta.dir, "../../out/bunker");
const dir = mkdtempSync(join(tmpdir(), "bunker-apid-bin-"));
const pki = new TestPki();
afterAll(() => {
  pki.remove();
  rmSync(dir, { recursive: true, force: true });
});

test("bad usage exits 2 and names what is missing", () => {
  const r = Bun.spawnSync([bin, "apid", "--cert", "x"], { stderr: "pipe" });
  expect(r.exitCode).toBe(2);
  expect(r.stderr.toString()).toContain("missing --key, --backend, --ca");
});

test("serves through the compiled binary, reloads certificates on SIGHUP, stops on SIGTERM", async () => {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run scripts/build.ts first`);
  const sock = join(dir, "init.sock");
  const backend = new GrpcServer()
    .handle(M.Version, (_r, ctx) => ({ version: "stub", hostname: String(ctx.metadata["x-bunker-roles"]) }))
    .handle(M.Logs, async function* (_r, ctx) {
      for (let i = 0; i < 2000 && !ctx.signal.aborted; i++) {
        yield { message: `l${i}` };
        await sleep(10, ctx.signal); // the backend's pace: a line every 10 ms until cancelled
      }
    });
  await backend.listenUnix(sock);
  const first = pki.server("first");
  const crt = join(dir, "api.crt");
  const key = join(dir, "api.key");
  copyFileSync(first.certPath, crt);
  copyFileSync(first.keyPath, key);
  // Find a free port: listen on 0 in a throwaway server, then hand it to apid.
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  const proc = Bun.spawn([bin, "apid", "--listen", `127.0.0.1:${port}`, "--cert", crt, "--key", key, "--ca", pki.ca.certPath, "--backend", sock], { stderr: "pipe" });
  const cc = pki.client("ops", { roles: ["os:operator"] });
  const connect = () => GrpcClient.tls({ address: `127.0.0.1:${port}`, ca: pki.ca.cert, cert: cc.cert, key: cc.key });
  try {
    // Until apid listens, a call fails.
    let res: { hostname?: string | null } | undefined;
    await eventually(async () => {
      const c = connect();
      res = await c.unary(M.Version, {}, { timeoutMs: 1000 }).catch(() => undefined);
      c.close();
      return res !== undefined;
    }, 10_000);
    expect(res?.hostname).toBe("os:operator");

    const streaming = connect();
    const it = streaming.stream(M.Logs, { follow: true });
    expect((await it.next()).value?.message).toBe("l0");

    const second = pki.server("second");
    copyFileSync(second.certPath, crt);
    copyFileSync(second.keyPath, key);
    proc.kill("SIGHUP");
    const serial = (pair: { cert: string }) => new X509Certificate(pair.cert).serialNumber;
    let served = "";
    await eventually(async () => {
      served = await new Promise<string>((done) => {
        const s = tls.connect({ host: "127.0.0.1", port, ca: pki.ca.cert, cert: cc.cert, key: cc.key, ALPNProtocols: ["h2"] }, () => {
          done(s.getPeerX509Certificate()?.serialNumber ?? "");
          s.destroy();
        });
        s.on("error", () => done(""));
      });
      return served === serial(second);
    });
    expect(served).toBe(serial(second));
    // The stream opened before the reload still flows.
    let last = "";
    for (let i = 0; i < 300 && last !== "l30"; i++) last = (await it.next()).value?.message ?? "";
    expect(last).toBe("l30");
    await it.return(undefined);
    streaming.close();

    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    const log = await new Response(proc.stderr).text();
    expect(log).toContain("credentials reloaded");
  } finally {
    proc.kill();
    await backend.close();
  }
}, 30_000);

test("relays only to the members --members lists; SIGHUP reads the list again, a bad one is not taken", async () => {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run scripts/build.ts first`);
  // Node B: a gateway in front of a stub init; node A: the binary, relaying with its node certificate.
  const sockB = join(dir, "init-b.sock");
  const backendB = new GrpcServer().handle(M.Version, () => ({ version: "stub-B" }));
  await backendB.listenUnix(sockB);
  const nb = pki.node("node-b");
  const b = new Gateway({ host: "127.0.0.1", port: 0, cert: nb.cert, key: nb.key, cas: [pki.ca.cert], backend: sockB, onError: () => {} });
  const nodeB = `127.0.0.1:${(await b.listen()).port}`;
  const sockA = join(dir, "init-a.sock");
  const backendA = new GrpcServer().handle(M.Version, () => ({ version: "stub-A" }));
  await backendA.listenUnix(sockA);
  const na = pki.node("node-a");
  const members = join(dir, "members");
  writeFileSync(members, "# nobody yet\n");
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  const proc = Bun.spawn([bin, "apid", "--listen", `127.0.0.1:${port}`, "--cert", na.certPath, "--key", na.keyPath, "--ca", pki.ca.certPath, "--backend", sockA, "--members", members], { stderr: "pipe" });
  // apid's stderr as it comes, so the test can wait for what it says about a reload.
  let log = "";
  const logDone = (async () => { for await (const chunk of proc.stderr.pipeThrough(new TextDecoderStream())) log += chunk; })();
  const cc = pki.client("reader", { roles: ["os:reader"] });
  const viaA = async (): Promise<string> => {
    const c = GrpcClient.tls({ address: `127.0.0.1:${port}`, ca: pki.ca.cert, cert: cc.cert, key: cc.key });
    try {
      return (await c.unary(M.Version, {}, { metadata: { node: nodeB }, timeoutMs: 5000 })).version ?? "";
    } catch (e) {
      return e instanceof GrpcError ? `${statusName(e.code)}: ${e.details}` : String(e);
    } finally {
      c.close();
    }
  };
  try {
    // Until apid listens, a call fails otherwise.
    let first = "";
    await eventually(async () => (first = await viaA()).startsWith("PERMISSION_DENIED"), 10_000);
    expect(first).toBe(`PERMISSION_DENIED: node ${nodeB} is not a member of this cluster`);
    writeFileSync(members, `${nodeB} # node B\n`);
    proc.kill("SIGHUP");
    let now = "";
    await eventually(async () => (now = await viaA()) === "stub-B");
    expect(now).toBe("stub-B");
    // A list that does not parse is refused whole: the one before stays.
    writeFileSync(members, `${nodeB}\nnot an address\n`);
    proc.kill("SIGHUP");
    expect(await eventually(() => log.includes("reading the cluster members failed"))).toBe(true);
    expect(await viaA()).toBe("stub-B");
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    await logDone;
    expect(log).toContain("cluster members reloaded (1)");
    expect(log).toContain(`${members}:2: "not an address" is not HOST:PORT`);
  } finally {
    proc.kill();
    await b.close();
    await backendA.close();
    await backendB.close();
  }
}, 30_000);
