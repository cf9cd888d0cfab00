/**
 * apid's gateway against a stub init backend on a unix socket: an authorisation matrix over real
 * mTLS (openssl-made Ed25519 certificates), metadata hygiene, and calls passing through.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { allMethods, MachineService as M, ResourcePublisher as P, ResourceService as R } from "../../core/api/gen/services.ts";
import { GrpcClient, type CallOptions } from "../../core/grpc/client.ts";
import type { AnyMethod, Method } from "../../core/grpc/method.ts";
import { GrpcServer } from "../../core/grpc/server.ts";
import { REASON } from "../../core/errors.ts";
import { GrpcError, reasonOf, Status, statusName } from "../../core/grpc/status.ts";
import { eventually, sleep } from "../../test/lib/fixture-server.ts";
import { TestPki, type CertPair } from "../../test/lib/pki.ts";
import { Gateway } from "./gateway.ts";

const dir = mkdtempSync(join(tmpdir(), "bunker-apid-"));
const backendSock = join(dir, "init.sock");
const pki = new TestPki();
const nextCa = new TestPki("next"); // an accepted CA, as during rotation
const rogue = new TestPki("rogue");

/** What the stub backend saw on its last call. */
let seen: Record<string, string> = {};
const backendAborts: string[] = [];

function stubBackend(name = "stub"): GrpcServer {
  const s = new GrpcServer();
  for (const m of allMethods.values()) {
    if (m.responseStream) s.handle(m as Method<unknown, unknown, true>, async function* () { yield {}; });
    else s.handle(m as Method<unknown, unknown, false>, () => ({}));
  }
  s.handle(M.Version, (_req, ctx) => {
    seen = Object.fromEntries(Object.entries(ctx.metadata).map(([k, v]) => [k, String(v)]));
    seen.peerUid = String(ctx.peer.transport === "unix" ? ctx.peer.uid : -1);
    return { version: name };
  });
  s.handle(M.ServiceStart, (req, ctx) => {
    ctx.setTrailers({ "x-why": "unknown-service" });
    throw new GrpcError(Status.NOT_FOUND, `service ${req.id} not found`);
  });
  s.handle(M.Logs, async function* (req, ctx) {
    if (!req.follow) return yield { message: "one line" };
    ctx.signal.addEventListener("abort", () => backendAborts.push(statusName((ctx.signal.reason as GrpcError).code)), { once: true });
    for (let i = 0; i < 1000 && !ctx.signal.aborted; i++) {
      yield { message: `l${i}` };
      await sleep(10, ctx.signal); // the backend's pace: a line every 10 ms until cancelled
    }
  });
  return s;
}

const backend = stubBackend();
let gw: Gateway;
let mgw: Gateway;
let port = 0;
let mport = 0;
const certs: Record<string, CertPair> = {};

beforeAll(async () => {
  await backend.listenUnix(backendSock);
  const sc = pki.server();
  gw = new Gateway({ host: "127.0.0.1", port: 0, cert: sc.cert, key: sc.key, cas: [pki.ca.cert, nextCa.ca.cert], backend: backendSock, onError: () => {} });
  port = (await gw.listen()).port;
  mgw = new Gateway({ host: "127.0.0.1", port: 0, cert: sc.cert, key: sc.key, cas: [], backend: backendSock, maintenance: true, onError: () => {} });
  mport = (await mgw.listen()).port;
  certs.admin = pki.client("admin", { roles: ["os:admin"] });
  certs.operator = pki.client("operator", { roles: ["os:operator"] });
  certs.reader = pki.client("reader", { roles: ["os:reader"] });
  certs.readerOperator = pki.client("both", { roles: ["os:reader", "os:operator"] });
  certs.etcd = pki.client("etcd", { roles: ["os:etcd:backup"] });
  certs.norole = pki.client("norole", { roles: ["bunker"] });
  certs.serverEku = pki.client("srv", { roles: ["os:admin"], eku: "serverAuth" });
  certs.noEku = pki.client("noeku", { roles: ["os:admin"], eku: "" });
  certs.expired = pki.client("expired", { roles: ["os:admin"], days: -1 });
  certs.rogue = rogue.client("mallory", { roles: ["os:admin"] });
  certs.accepted = nextCa.client("rotated", { roles: ["os:admin"] });
}, 30_000);

afterAll(async () => {
  await gw?.close();
  await mgw?.close();
  await backend.close();
  for (const p of [pki, nextCa, rogue]) p.remove();
  rmSync(dir, { recursive: true, force: true });
});

function clientFor(who: string, maintenance = false): GrpcClient {
  const c = certs[who];
  if (maintenance) return GrpcClient.tls({ address: `127.0.0.1:${mport}`, insecure: true, cert: c?.cert, key: c?.key });
  return GrpcClient.tls({ address: `127.0.0.1:${port}`, ca: pki.ca.cert, cert: c?.cert, key: c?.key });
}

/** Calls a method with an empty request; returns the status name. */
async function statusOf(who: string, m: AnyMethod, maintenance = false, opts: CallOptions = {}): Promise<string> {
  const c = clientFor(who, maintenance);
  try {
    if (m.responseStream) await Array.fromAsync(c.stream(m as Method<unknown, unknown, true>, {}, { timeoutMs: 5000, ...opts }));
    else await c.unary(m as Method<unknown, unknown, false>, {}, { timeoutMs: 5000, ...opts });
    return "OK";
  } catch (e) {
    return e instanceof GrpcError ? statusName(e.code) : `not a GrpcError: ${e}`;
  } finally {
    c.close();
  }
}

// [caller, method, maintenance gateway?, expected status]. Written out, not computed from the
// role table, so a wrong table fails here.
const matrix: [string, AnyMethod, boolean, string][] = [
  ["none", M.Version, false, "UNAVAILABLE"],
  ["rogue", M.Version, false, "UNAVAILABLE"],
  ["expired", M.Version, false, "UNAVAILABLE"],
  // A certificate for servers only is already refused by the TLS handshake (purpose check); one
  // with no EKU at all passes TLS, and the gateway refuses it.
  ["serverEku", M.Version, false, "UNAVAILABLE"],
  ["noEku", M.Version, false, "UNAUTHENTICATED"],
  ["norole", M.Version, false, "PERMISSION_DENIED"],
  ["etcd", M.Version, false, "PERMISSION_DENIED"],
  ["reader", M.Version, false, "OK"],
  ["reader", M.Logs, false, "OK"],
  ["reader", R.Get, false, "OK"],
  ["reader", M.Disks, false, "OK"],
  ["reader", M.Reboot, false, "PERMISSION_DENIED"],
  ["reader", M.ServiceStart, false, "PERMISSION_DENIED"],
  ["reader", M.Read, false, "PERMISSION_DENIED"],
  ["reader", M.ApplyConfiguration, false, "PERMISSION_DENIED"],
  ["operator", M.Reboot, false, "OK"],
  ["operator", M.Shutdown, false, "OK"],
  ["operator", M.ServiceStart, false, "NOT_FOUND"], // allowed; the backend's own answer comes back
  ["operator", M.Reset, false, "PERMISSION_DENIED"],
  ["operator", M.ApplyConfiguration, false, "PERMISSION_DENIED"],
  ["operator", M.GenerateClientConfiguration, false, "PERMISSION_DENIED"],
  ["operator", M.List, false, "PERMISSION_DENIED"],
  ["readerOperator", M.Reboot, false, "OK"],
  ["admin", M.Reset, false, "OK"],
  ["admin", M.ApplyConfiguration, false, "OK"],
  ["admin", M.Read, false, "OK"],
  ["admin", M.GenerateClientConfiguration, false, "OK"],
  ["admin", M.Upgrade, false, "OK"],
  ["accepted", M.Reset, false, "OK"],
  ["none", M.Version, true, "OK"],
  ["none", M.Disks, true, "OK"],
  ["none", M.ApplyConfiguration, true, "OK"],
  ["none", M.Memory, true, "OK"],
  ["none", M.Reset, true, "PERMISSION_DENIED"],
  ["none", M.Reboot, true, "PERMISSION_DENIED"],
  ["none", M.Read, true, "PERMISSION_DENIED"],
  ["none", M.Logs, true, "PERMISSION_DENIED"],
  ["none", R.List, true, "PERMISSION_DENIED"],
  ["rogue", M.Reset, true, "PERMISSION_DENIED"], // a certificate grants nothing in maintenance mode
  ["admin", M.GenerateClientConfiguration, true, "PERMISSION_DENIED"],
  // Internal services are never forwarded, whoever asks (the stub backend does not even serve
  // them, so PERMISSION_DENIED rather than UNIMPLEMENTED shows apid refused).
  ["admin", P.Put, false, "PERMISSION_DENIED"],
  ["admin", P.Replace, false, "PERMISSION_DENIED"],
  ["admin", P.Delete, false, "PERMISSION_DENIED"],
  ["none", P.Put, true, "PERMISSION_DENIED"],
];

describe("authorisation matrix", () => {
  for (const [who, m, maint, want] of matrix) {
    test(`${maint ? "maintenance: " : ""}${who} -> ${m.name}: ${want}`, async () => {
      expect(await statusOf(who, m, maint)).toBe(want);
    });
  }
});

describe("what reaches init", () => {
  test("verified roles and identity, never the client's own x-bunker-* claims", async () => {
    const c = clientFor("reader");
    try {
      await c.unary(M.Version, {}, { metadata: { "x-bunker-roles": "os:admin", "x-bunker-maintenance": "1", "x-trace": "t9" } });
    } finally {
      c.close();
    }
    expect(seen["x-bunker-roles"]).toBe("os:reader");
    expect(seen["x-bunker-identity"]).toBe("reader");
    expect(seen["x-bunker-maintenance"]).toBeUndefined();
    expect(seen["x-trace"]).toBe("t9");
    expect(seen.peerUid).toBe(String(process.getuid!()));
  });

  test("maintenance calls are marked and carry no role", async () => {
    const c = clientFor("none", true);
    try {
      await c.unary(M.Version, {});
    } finally {
      c.close();
    }
    expect(seen["x-bunker-maintenance"]).toBe("1");
    expect(seen["x-bunker-roles"]).toBe("");
  });

  test("a refusal says what is needed", async () => {
    const c = clientFor("operator");
    const e = await c.unary(M.Reset, {}).catch((x) => x);
    c.close();
    expect((e as GrpcError).details).toBe("Reset needs one of os:admin; the caller has os:operator");
    expect(reasonOf(e)).toBe(REASON.missingRole);
  });

  test("the backend's error status, message and trailers pass through", async () => {
    const c = clientFor("operator");
    let trailers = {};
    const e = await c.unary(M.ServiceStart, { id: "etcd" }, { onTrailers: (md) => { trailers = md; } }).catch((x) => x);
    c.close();
    expect((e as GrpcError).details).toBe("service etcd not found");
    expect(trailers).toMatchObject({ "x-why": "unknown-service" });
  });

  test("a stream passes through, and cancelling it at the gateway cancels it at init", async () => {
    const c = clientFor("reader");
    const got: string[] = [];
    for await (const e of c.stream(M.Logs, { id: "x", follow: true })) {
      got.push(e.message!);
      if (got.length === 3) break;
    }
    c.close();
    expect(got).toEqual(["l0", "l1", "l2"]);
    expect(await eventually(() => backendAborts.includes("CANCELLED"))).toBe(true);
  });

  test("a client's own x-bunker-roles claim grants nothing", async () => {
    expect(await statusOf("reader", M.Reset, false, { metadata: { "x-bunker-roles": "os:admin" } })).toBe("PERMISSION_DENIED");
  });

  test("init unreachable: UNAVAILABLE", async () => {
    const sc = pki.server("lonely");
    const lonely = new Gateway({ host: "127.0.0.1", port: 0, cert: sc.cert, key: sc.key, cas: [pki.ca.cert], backend: join(dir, "absent.sock"), onError: () => {} });
    const p = (await lonely.listen()).port;
    const c = GrpcClient.tls({ address: `127.0.0.1:${p}`, ca: pki.ca.cert, cert: certs.admin!.cert, key: certs.admin!.key });
    const e = await c.unary(M.Version, {}, { timeoutMs: 5000 }).catch((x) => x);
    c.close();
    await lonely.close();
    expect(statusName((e as GrpcError).code)).toBe("UNAVAILABLE");
  });
});

describe("proxying to another node (metadata node)", () => {
  // Two nodes, A and B, each an apid with its own init; their certificates are node certificates.
  const sockB = join(dir, "init-b.sock");
  const backendB = stubBackend("stub-B");
  let a: Gateway;
  let b: Gateway;
  let portA = 0;
  let nodeB = "";
  beforeAll(async () => {
    await backendB.listenUnix(sockB);
    const na = pki.node("node-a");
    const nb = pki.node("node-b");
    b = new Gateway({ host: "127.0.0.1", port: 0, cert: nb.cert, key: nb.key, cas: [pki.ca.cert], backend: sockB, onError: () => {} });
    nodeB = `127.0.0.1:${(await b.listen()).port}`;
    // B is a member of A's cluster; 127.0.0.1:2 is a member nobody listens on.
    a = new Gateway({ host: "127.0.0.1", port: 0, cert: na.cert, key: na.key, cas: [pki.ca.cert], backend: backendSock, members: [nodeB, "127.0.0.1:2"], onError: () => {} });
    portA = (await a.listen()).port;
  }, 30_000);
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await backendB.close();
  });

  const viaA = (who: string) => GrpcClient.tls({ address: `127.0.0.1:${portA}`, ca: pki.ca.cert, cert: certs[who]!.cert, key: certs[who]!.key });
  async function statusViaA(who: string, m: AnyMethod): Promise<string> {
    const c = viaA(who);
    try {
      await c.unary(m as Method<unknown, unknown, false>, {}, { metadata: { node: nodeB }, timeoutMs: 5000 });
      return "OK";
    } catch (e) {
      return e instanceof GrpcError ? statusName(e.code) : String(e);
    } finally {
      c.close();
    }
  }

  test("a reader's call reaches B's init with the reader's roles, not the node's", async () => {
    const c = viaA("reader");
    const res = await c.unary(M.Version, {}, { metadata: { node: nodeB } });
    c.close();
    expect(res.version).toBe("stub-B");
    expect(seen["x-bunker-roles"]).toBe("os:reader");
    expect(seen["x-bunker-identity"]).toBe("reader via node-a");
  });

  test("proxying with a reader certificate does not lend the node's authority", async () => {
    expect(await statusViaA("reader", M.Reboot)).toBe("PERMISSION_DENIED");
    expect(await statusViaA("reader", M.Reset)).toBe("PERMISSION_DENIED");
    expect(await statusViaA("operator", M.Reset)).toBe("PERMISSION_DENIED");
    expect(await statusViaA("operator", M.Reboot)).toBe("OK");
    expect(await statusViaA("admin", M.Reset)).toBe("OK");
  });

  test("B refuses a relay whose roles do not allow the call (its own check, not only A's)", async () => {
    // Present node A's certificate straight to B with a forged reader role, calling Reset.
    const na = pki.node("node-a2");
    const c = GrpcClient.tls({ address: nodeB, ca: pki.ca.cert, cert: na.cert, key: na.key });
    const denied = await c.unary(M.Reset, {}, { metadata: { "x-bunker-roles": "os:reader" } }).catch((e) => e);
    const noRoles = await c.unary(M.Version, {}).catch((e) => e);
    c.close();
    expect(statusName((denied as GrpcError).code)).toBe("PERMISSION_DENIED");
    expect(statusName((noRoles as GrpcError).code)).toBe("PERMISSION_DENIED");
  });

  test("a node naming A itself (its own address and port, or localhost) is served by A's own init, not relayed to itself", async () => {
    const c = viaA("reader");
    for (const node of [`127.0.0.1:${portA}`, `localhost:${portA}`]) {
      const res = await c.unary(M.Version, {}, { metadata: { node } });
      expect(res.version).toBe("stub");
      expect(seen["x-bunker-identity"]).toBe("reader"); // no "via node-a": no relay happened
    }
    c.close();
  });

  test("a stream through the proxy", async () => {
    const c = viaA("reader");
    const got = await Array.fromAsync(c.stream(M.Logs, { id: "x" }, { metadata: { node: nodeB } }));
    c.close();
    expect(got.map((e) => e.message)).toEqual(["one line"]);
  });

  test("a member that cannot be reached: UNAVAILABLE, no socket details; maintenance mode does not proxy", async () => {
    const c = viaA("admin");
    const e = await c.unary(M.Version, {}, { metadata: { node: "127.0.0.1:2" }, timeoutMs: 5000 }).catch((x) => x);
    c.close();
    expect(statusName((e as GrpcError).code)).toBe("UNAVAILABLE");
    expect((e as GrpcError).details).toBe("node 127.0.0.1:2 is unavailable");
    expect(await statusOf("none", M.Version, true, { metadata: { node: nodeB } })).toBe("PERMISSION_DENIED");
  });

  test("a node that is not a member: refused before any connection, whatever the role", async () => {
    for (const who of ["reader", "admin"]) {
      const c = viaA(who);
      for (const node of ["127.0.0.1:1", "127.0.0.1", "localhost:22", "[::1]:50000", "203.0.113.9"]) {
        const e = await c.unary(M.Version, {}, { metadata: { node }, timeoutMs: 5000 }).catch((x) => x);
        expect([statusName((e as GrpcError).code), (e as GrpcError).details]).toEqual(["PERMISSION_DENIED", `node ${node} is not a member of this cluster`]);
        expect(reasonOf(e)).toBe(REASON.notMember);
      }
      c.close();
    }
  });
});
