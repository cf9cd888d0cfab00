/**
 * Finding 4: apid as an open relay. Metadata `node` used to accept any host:port from any role:
 * apid dialled it with TLS and returned the socket error (a port scanner for readers), and its
 * peer cache (64 entries, never evicted) filled up until relaying to real nodes failed. Now a
 * relay target must be a member of the cluster (the list init hands apid), a non-member gets one
 * generic refusal decided before any connection, a member that cannot be reached is only
 * "unavailable", and idle or surplus peer connections are closed.
 *
 * Real parts: apid's gateway over mTLS with certificates from core/pki, stub inits on unix
 * sockets, plain TCP listeners and proxies that count connections.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { allMethods, MachineService as M } from "../../core/api/gen/services.ts";
import { GrpcClient } from "../../core/grpc/client.ts";
import type { Method } from "../../core/grpc/method.ts";
import { GrpcServer } from "../../core/grpc/server.ts";
import { GrpcError, statusName } from "../../core/grpc/status.ts";
import { IMPERSONATOR } from "../../core/api/roles.ts";
import { issueLeaf, newClusterCA, toPemPair } from "../../core/pki/issue.ts";
import { Gateway, type GatewayOptions } from "../../services/apid/gateway.ts";
import { eventually, sleep } from "../lib/fixture-server.ts";

// Bounded waits, not speed: the machine running this may be slow and shared.
setDefaultTimeout(60_000);

const dir = mkdtempSync(join(tmpdir(), "bunker-relay-"));
const ca = newClusterCA();
const caPem = toPemPair(ca).crt;
const HOUR = 3_600_000;
const nodeCert = (name: string) => toPemPair(issueLeaf(ca, { commonName: name, roles: [IMPERSONATOR], sans: ["127.0.0.1", "localhost"], lifetime: HOUR, usage: ["serverAuth", "clientAuth"] }));
const reader = toPemPair(issueLeaf(ca, { commonName: "reader", roles: ["os:reader"], lifetime: HOUR, usage: ["clientAuth"] }));

const closers: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

/** A stub init answering Version with its name. */
async function stubInit(name: string): Promise<string> {
  const s = new GrpcServer();
  for (const m of allMethods.values()) {
    if (m.responseStream) s.handle(m as Method<unknown, unknown, true>, async function* () { yield {}; });
    else s.handle(m as Method<unknown, unknown, false>, () => ({}));
  }
  s.handle(M.Version, () => ({ version: name }));
  s.handle(M.Logs, async function* (_req, ctx) {
    for (let i = 0; i < 100 && !ctx.signal.aborted; i++) {
      yield { message: `${name} ${i}` };
      await sleep(50, ctx.signal).catch(() => {}); // the backend's pace: a line every 50 ms until cancelled
    }
  });
  const sock = join(dir, `${name}.sock`);
  await s.listenUnix(sock);
  closers.push(() => s.close());
  return sock;
}

/** A node: a gateway in front of its own stub init. */
async function node(name: string, o: Partial<GatewayOptions> = {}): Promise<{ gw: Gateway; address: string }> {
  const c = nodeCert(name);
  const gw = new Gateway({ host: "127.0.0.1", port: 0, cert: c.crt, key: c.key, cas: [caPem], backend: await stubInit(name), onError: () => {}, ...o });
  const address = `127.0.0.1:${(await gw.listen()).port}`;
  closers.push(() => gw.close());
  return { gw, address };
}

/** A TCP listener that counts the connections it accepts (and holds them open). */
async function countingListener(): Promise<{ port: number; accepted: () => number }> {
  let n = 0;
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((s) => { n++; sockets.add(s); s.on("close", () => sockets.delete(s)); s.on("error", () => {}); });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  closers.push(() => { for (const s of sockets) s.destroy(); srv.close(); });
  return { port: (srv.address() as net.AddressInfo).port, accepted: () => n };
}

/** A TCP proxy to `target` that counts connections: accepted so far, open now. */
async function proxy(target: string): Promise<{ address: string; accepted: () => number; open: () => number }> {
  const [host, port] = [target.slice(0, target.lastIndexOf(":")), Number(target.slice(target.lastIndexOf(":") + 1))];
  let n = 0;
  const open = new Set<net.Socket>();
  const srv = net.createServer((c) => {
    n++;
    open.add(c);
    const u = net.connect(port, host);
    c.pipe(u);
    u.pipe(c);
    const end = () => { open.delete(c); c.destroy(); u.destroy(); };
    c.on("close", end); u.on("close", end); c.on("error", end); u.on("error", end);
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  closers.push(() => { for (const s of open) s.destroy(); srv.close(); });
  return { address: `127.0.0.1:${(srv.address() as net.AddressInfo).port}`, accepted: () => n, open: () => open.size };
}

async function versionVia(gwAddress: string, target: string): Promise<{ ok?: string; code?: string; message?: string }> {
  const c = GrpcClient.tls({ address: gwAddress, ca: caPem, cert: reader.crt, key: reader.key });
  try {
    const r = await c.unary(M.Version, {}, { metadata: { node: target }, timeoutMs: 10_000 });
    return { ok: r.version ?? "" };
  } catch (e) {
    return e instanceof GrpcError ? { code: statusName(e.code), message: e.details } : { code: String(e) };
  } finally {
    c.close();
  }
}

let b: { gw: Gateway; address: string };
beforeAll(async () => {
  b = await node("node-b");
});

describe("a target that is not a member of the cluster", () => {
  test("gets one generic refusal, and apid never connects to it", async () => {
    const probe = await countingListener();
    const a = await node("node-a", { members: [b.address] });
    const targets = [
      `127.0.0.1:${probe.port}`, `localhost:${probe.port}`, `[::ffff:127.0.0.1]:${probe.port}`,
      "127.0.0.1:22", "127.0.0.1:1", "127.0.0.1", "10.255.255.1:50000", "example.invalid", "[::1]:22",
    ];
    for (const t of targets) {
      const r = await versionVia(a.address, t);
      expect(r).toEqual({ code: "PERMISSION_DENIED", message: `node ${t} is not a member of this cluster` });
    }
    // Nothing may reach the probe: only real time passing can show that no late dial comes.
    await sleep(300);
    expect(probe.accepted()).toBe(0);
    // The member still answers.
    expect(await versionVia(a.address, b.address)).toEqual({ ok: "node-b" });
  });

  test("with no member list at all, nothing is relayed", async () => {
    const probe = await countingListener();
    const a = await node("node-lonely");
    expect((await versionVia(a.address, `127.0.0.1:${probe.port}`)).code).toBe("PERMISSION_DENIED");
    expect((await versionVia(a.address, b.address)).code).toBe("PERMISSION_DENIED");
    // As above: a window in which no dial may come.
    await sleep(200);
    expect(probe.accepted()).toBe(0);
  });

  test("many distinct targets do not stop relaying to a real member", async () => {
    const a = await node("node-busy", { members: [b.address] });
    for (let i = 1; i <= 150; i++) {
      const r = await versionVia(a.address, `127.0.0.1:${i}`);
      expect(r.code).toBe("PERMISSION_DENIED");
    }
    expect(await versionVia(a.address, b.address)).toEqual({ ok: "node-b" });
  });
});

describe("a member", () => {
  test("that cannot be reached is only unavailable: no socket details", async () => {
    const gone = await countingListener(); // a port that was free a moment ago
    const free = `127.0.0.1:${(await new Promise<number>((r) => { const s = net.createServer().listen(0, "127.0.0.1", () => { const p = (s.address() as net.AddressInfo).port; s.close(() => r(p)); }); }))}`;
    const a = await node("node-c", { members: [free, `127.0.0.1:${gone.port}`] });
    const down = await versionVia(a.address, free);
    expect(down).toEqual({ code: "UNAVAILABLE", message: `node ${free} is unavailable` });
    // A member that accepts TCP but never speaks TLS: the caller's deadline, then still no detail.
    const c = GrpcClient.tls({ address: a.address, ca: caPem, cert: reader.crt, key: reader.key });
    const e = await c.unary(M.Version, {}, { metadata: { node: `127.0.0.1:${gone.port}` }, timeoutMs: 1500 }).catch((x) => x as GrpcError);
    c.close();
    expect(["DEADLINE_EXCEEDED", "UNAVAILABLE"]).toContain(statusName((e as GrpcError).code));
    expect((e as GrpcError).details).not.toMatch(/ECONN|connect|socket|TLS|handshake|settings/i);
  });

  test("idle peer connections are closed", async () => {
    const p = await proxy(b.address);
    const a = await node("node-idle", { members: [p.address], peerIdleMs: 300 });
    expect(await versionVia(a.address, p.address)).toEqual({ ok: "node-b" });
    expect(p.open()).toBe(1);
    expect(await eventually(() => p.open() === 0, 10_000)).toBe(true);
    // And a later call dials again.
    expect(await versionVia(a.address, p.address)).toEqual({ ok: "node-b" });
    expect(p.accepted()).toBe(2);
  });

  test("a relayed stream under way keeps its connection past the idle timeout", async () => {
    const p = await proxy(b.address);
    const a = await node("node-stream", { members: [p.address], peerIdleMs: 200 });
    const c = GrpcClient.tls({ address: a.address, ca: caPem, cert: reader.crt, key: reader.key });
    const got: string[] = [];
    for await (const e of c.stream(M.Logs, { id: "x", follow: true }, { metadata: { node: p.address }, timeoutMs: 30_000 })) {
      got.push(e.message ?? "");
      if (got.length === 20) break; // about 1 s: five idle timeouts
    }
    c.close();
    expect(got[19]).toBe("node-b 19");
    expect(p.accepted()).toBe(1);
    // Once the call is over, the connection goes.
    expect(await eventually(() => p.open() === 0, 10_000)).toBe(true);
  });

  test("the peer cache is bounded: the least recently used connection is closed", async () => {
    const ps = await Promise.all([1, 2, 3].map(() => proxy(b.address)));
    const a = await node("node-lru", { members: ps.map((p) => p.address), maxPeers: 2 });
    for (const p of ps) expect(await versionVia(a.address, p.address)).toEqual({ ok: "node-b" });
    // The first one was least recently used when the third came.
    expect(await eventually(() => ps[0]!.open() === 0)).toBe(true);
    expect(ps.map((p) => p.open())).toEqual([0, 1, 1]);
    for (const p of ps) expect(await versionVia(a.address, p.address)).toEqual({ ok: "node-b" });
    expect(await eventually(() => ps.reduce((n, p) => n + p.open(), 0) <= 2)).toBe(true);
  });

  test("a new member list applies at once; a dropped member's connection is closed", async () => {
    const p = await proxy(b.address);
    const a = await node("node-reload", { members: [] });
    expect((await versionVia(a.address, p.address)).code).toBe("PERMISSION_DENIED");
    a.gw.setMembers([p.address]);
    expect(await versionVia(a.address, p.address)).toEqual({ ok: "node-b" });
    a.gw.setMembers([]);
    expect(await eventually(() => p.open() === 0)).toBe(true);
    expect((await versionVia(a.address, p.address)).code).toBe("PERMISSION_DENIED");
  });
});
