/**
 * Our gRPC client against our server, over mTLS and the unix socket, plus requests no good
 * client sends (made with bare node:http2): each gets a clear status and the server stays up.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import type http2 from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bunker } from "../api/gen/api.js";
import { MachineService as M } from "../api/gen/services.ts";
import { fixtureServer, eventually, sleep } from "../../test/lib/fixture-server.ts";
import { TestPki } from "../../test/lib/pki.ts";
import { connectUnix, rawCall } from "../../test/lib/raw-h2.ts";
import { GrpcClient } from "./client.ts";
import { GrpcServer } from "./server.ts";
import { encodeFrame } from "./framing.ts";
import { GrpcError, Status, statusName } from "./status.ts";

const dir = mkdtempSync(join(tmpdir(), "bunker-grpc-"));
const sock = join(dir, "api.sock");
const { server, observed } = fixtureServer({ requestTimeoutMs: 300, maxSendMessageBytes: 1024 * 1024 });
let client: GrpcClient;
let raw: http2.ClientHttp2Session;

beforeAll(async () => {
  await server.listenUnix(sock);
  client = GrpcClient.unix(sock, { maxReceiveMessageBytes: 512 * 1024 });
  raw = connectUnix(sock);
});
afterAll(async () => {
  client.close();
  raw.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const code = (e: unknown) => (e instanceof GrpcError ? statusName(e.code) : `not a GrpcError: ${e}`);
const versionPath = M.Version.path;
const versionBody = () => encodeFrame(bunker.machine.v1.VersionRequest.encode({}).finish());

describe("our client and server over the unix socket", () => {
  test("unary call, with the caller's uid/gid/pid from SO_PEERCRED", async () => {
    const res = await client.unary(M.Version, {});
    expect(res.version).toBe("1.2.3");
    expect(res.commit).toBe("unix");
    expect(statSync(sock).mode & 0o777).toBe(0o600);
  });

  test("server streaming and its end", async () => {
    const got = await Array.fromAsync(client.stream(M.Logs, { id: "a", tail: 100 }));
    expect(got.length).toBe(100);
    expect(got[99]!.message).toBe("line 99");
    expect(typeof got[0]!.time).toBe("number");
  });

  test("an error after no message is a trailers-only answer", async () => {
    const r = await rawCall(raw, M.Logs.path, encodeFrame(bunker.machine.v1.LogsRequest.encode({ id: "missing" }).finish()));
    expect(r.headers["grpc-status"]).toBe(String(Status.NOT_FOUND));
    expect(Number(r.headers[":status"])).toBe(200);
    expect(r.message).toBe("service «missing» not found");
  });

  test("the server's own deadline timer aborts the handler with DEADLINE_EXCEEDED", async () => {
    // No client-side timer here: only the grpc-timeout header, so the server must act alone.
    const before = (observed.aborts.Hostname ?? []).length;
    const r = await rawCall(raw, M.Hostname.path, encodeFrame(new Uint8Array()), { headers: { "grpc-timeout": "200m" } });
    expect(r.status).toBe(Status.DEADLINE_EXCEEDED);
    expect(await eventually(() => (observed.aborts.Hostname ?? []).length === before + 1)).toBe(true);
    expect(observed.aborts.Hostname!.at(-1)).toBe("DEADLINE_EXCEEDED");
  });

  test("the client's deadline fails the call with DEADLINE_EXCEEDED", async () => {
    expect(code(await client.unary(M.Hostname, {}, { timeoutMs: 100 }).catch((e) => e))).toBe("DEADLINE_EXCEEDED");
  });

  test("aborting the caller's signal cancels the server's work", async () => {
    const before = (observed.aborts.Logs ?? []).length;
    const ac = new AbortController();
    const got: string[] = [];
    const err = await (async () => {
      for await (const e of client.stream(M.Logs, { id: "follow" }, { signal: ac.signal })) {
        got.push(e.message!);
        if (got.length === 2) ac.abort();
      }
    })().catch((e) => e);
    expect(code(err)).toBe("CANCELLED");
    expect(await eventually(() => (observed.aborts.Logs ?? []).length === before + 1)).toBe(true);
    expect(observed.aborts.Logs!.at(-1)).toBe("CANCELLED");
    expect(observed.yieldedAfterAbort).toBe(0);
  });

  test("a response over the client's limit, and one over the server's send limit: RESOURCE_EXHAUSTED", async () => {
    expect(code(await Array.fromAsync(client.stream(M.Read, { path: String(600 * 1024) })).catch((e) => e))).toBe("RESOURCE_EXHAUSTED");
    const big = GrpcClient.unix(sock, { maxReceiveMessageBytes: 64 * 1024 * 1024 });
    const e = await Array.fromAsync(big.stream(M.Read, { path: String(2 * 1024 * 1024) })).catch((x) => x);
    big.close();
    expect(code(e)).toBe("RESOURCE_EXHAUSTED");
    expect((e as GrpcError).details).toContain("larger than the limit of 1048576 bytes");
  });

  test("metadata the server sent reaches the caller; a bad key is refused before sending", async () => {
    let initial = {};
    await client.unary(M.Version, {}, { onMetadata: (md) => { initial = md; } });
    expect(initial).toEqual({ "x-served-by": "bunker" });
    expect(() => client.unary(M.Version, {}, { metadata: { "grpc-status": "0" } })).toThrow(/not allowed/);
  });
});

describe("flow control and idle connections", () => {
  test("a slow reader holds the streaming handler back (backpressure), then gets everything", async () => {
    let produced = 0;
    const s = new GrpcServer().handle(M.Read, async function* () {
      for (let i = 0; i < 200; i++) {
        produced++;
        yield { data: new Uint8Array(64 * 1024).fill(i) };
      }
    });
    const p = join(dir, "slow.sock");
    await s.listenUnix(p);
    const c = GrpcClient.unix(p);
    try {
      const it = c.stream(M.Read, { path: "x" });
      await it.next();
      // A window in which the producer must NOT run ahead: only real time passing can show that.
      await sleep(300);
      // 200 chunks are 12.5 MiB; without backpressure all would be produced by now.
      expect(produced).toBeLessThan(100);
      let n = 1;
      for await (const chunk of it) {
        expect(chunk.data![0]).toBe(n % 256);
        n++;
      }
      expect(n).toBe(200);
    } finally {
      c.close();
      await s.close();
    }
  }, 20_000);

  test("a connection with no call is closed after idleSessionMs; one holding a quiet stream stays", async () => {
    const s = new GrpcServer({ idleSessionMs: 150 })
      .handle(M.Version, () => ({ version: "v" }))
      .handle(M.Logs, async function* (_r, ctx) {
        await sleep(10_000, ctx.signal); // a quiet `logs -f`: nothing to say for a while
        yield { message: "late" };
      });
    const p = join(dir, "idle.sock");
    await s.listenUnix(p);
    const idle = connectUnix(p);
    const busy = GrpcClient.unix(p);
    try {
      const closed = new Promise<boolean>((resolve) => { idle.once("close", () => resolve(true)); setTimeout(() => resolve(false), 3000); });
      await rawCall(idle, M.Version.path, versionBody());
      const ac = new AbortController();
      let settled = "pending";
      const first = busy.stream(M.Logs, { follow: true }, { signal: ac.signal }).next()
        .then(() => { settled = "message"; }, (e) => { settled = code(e); });
      expect(await closed).toBe(true);
      // Past idleSessionMs again: a window in which the busy connection must NOT be closed.
      await sleep(400);
      // The connection holding the quiet stream was not closed: the stream is still waiting.
      expect(settled).toBe("pending");
      ac.abort();
      await first;
      expect(settled).toBe("CANCELLED");
    } finally {
      busy.close();
      await s.close();
    }
  }, 20_000);
});

describe("requests no good client sends get a clear answer", () => {
  const cases: [string, () => Promise<unknown>, number, RegExp][] = [
    ["unknown method", () => rawCall(raw, "/bunker.machine.v1.MachineService/Nope", versionBody()), Status.UNIMPLEMENTED, /unknown method/],
    ["compressed flag", () => rawCall(raw, versionPath, Buffer.from([1, 0, 0, 0, 1, 0])), Status.UNIMPLEMENTED, /compressed/],
    ["grpc-encoding gzip", () => rawCall(raw, versionPath, versionBody(), { headers: { "grpc-encoding": "gzip" } }), Status.UNIMPLEMENTED, /gzip/],
    ["bad protobuf", () => rawCall(raw, versionPath, encodeFrame(Buffer.from([0x0a, 0xff, 0xff, 0xff]))), Status.INTERNAL, /not a valid Version request/],
    ["no message", () => rawCall(raw, versionPath, []), Status.UNIMPLEMENTED, /got 0/],
    ["two messages", () => rawCall(raw, versionPath, [versionBody(), versionBody()]), Status.UNIMPLEMENTED, /one request message/],
    ["truncated frame", () => rawCall(raw, versionPath, Buffer.from([0, 0, 0, 0, 9, 1, 2])), Status.INTERNAL, /ended inside a message/],
    ["oversize prefix", () => rawCall(raw, versionPath, Buffer.from([0, 0x7f, 0, 0, 0])), Status.RESOURCE_EXHAUSTED, /larger than the limit/],
    ["malformed grpc-timeout", () => rawCall(raw, versionPath, versionBody(), { headers: { "grpc-timeout": "soon" } }), Status.INTERNAL, /grpc-timeout/],
    ["stalled request body", () => rawCall(raw, versionPath, Buffer.from([0, 0, 0]), { keepOpen: true }), Status.CANCELLED, /stalled/],
  ];
  for (const [name, call, status, message] of cases) {
    test(name, async () => {
      const r = (await call()) as Awaited<ReturnType<typeof rawCall>>;
      expect(r.status).toBe(status);
      expect(r.message).toMatch(message);
      expect((await client.unary(M.Version, {})).version).toBe("1.2.3");
    });
  }

  test("non-POST and non-gRPC content types get plain HTTP 405 and 415", async () => {
    expect(Number((await rawCall(raw, versionPath, [], { headers: { ":method": "GET" } })).headers[":status"])).toBe(405);
    expect(Number((await rawCall(raw, versionPath, versionBody(), { headers: { "content-type": "text/plain" } })).headers[":status"])).toBe(415);
    expect((await client.unary(M.Version, {})).version).toBe("1.2.3");
  });
});

describe("over mutual TLS", () => {
  const pki = new TestPki();
  const tls = fixtureServer({ onError: () => {} });
  let port = 0;
  beforeAll(async () => {
    const sc = pki.server();
    port = (await tls.server.listenTls({ host: "127.0.0.1", port: 0, key: sc.key, cert: sc.cert, ca: pki.ca.cert })).port;
  });
  afterAll(async () => {
    await tls.server.close();
    pki.remove();
  });

  test("the handler sees the verified client certificate", async () => {
    const cc = pki.client("alice", { roles: ["os:reader"] });
    const c = GrpcClient.tls({ address: `127.0.0.1:${port}`, ca: pki.ca.cert, cert: cc.cert, key: cc.key });
    try {
      expect((await c.unary(M.Version, {})).commit).toBe("CN=alice");
    } finally {
      c.close();
    }
  });

  test("no client certificate, another CA, or an expired one: UNAVAILABLE, and the server stays up", async () => {
    const rogue = new TestPki("rogue");
    const attempts = [
      GrpcClient.tls({ address: `127.0.0.1:${port}`, ca: pki.ca.cert }),
      (() => { const r = rogue.client("mallory", { roles: ["os:admin"] }); return GrpcClient.tls({ address: `127.0.0.1:${port}`, ca: pki.ca.cert, cert: r.cert, key: r.key }); })(),
      (() => { const x = pki.client("old", { roles: ["os:admin"], days: -1 }); return GrpcClient.tls({ address: `127.0.0.1:${port}`, ca: pki.ca.cert, cert: x.cert, key: x.key }); })(),
    ];
    try {
      for (const c of attempts) expect(code(await c.unary(M.Version, {}, { timeoutMs: 5000 }).catch((e) => e))).toBe("UNAVAILABLE");
    } finally {
      for (const c of attempts) c.close();
      rogue.remove();
    }
    const cc = pki.client("bob", { roles: ["os:admin"] });
    const ok = GrpcClient.tls({ address: `127.0.0.1:${port}`, ca: pki.ca.cert, cert: cc.cert, key: cc.key });
    expect((await ok.unary(M.Version, {})).version).toBe("1.2.3");
    ok.close();
  });

  test("new credentials reach new connections while an open stream keeps flowing", async () => {
    const cc = pki.client("carol", { roles: ["os:admin"] });
    const before = GrpcClient.tls({ address: `127.0.0.1:${port}`, ca: pki.ca.cert, cert: cc.cert, key: cc.key });
    const it = before.stream(M.Logs, { id: "follow" });
    expect((await it.next()).value?.message).toBe("f0");
    // Renewal under a new CA (rotation): the server trusts both, serves a certificate from the new one.
    const next = new TestPki("next");
    try {
      const sc2 = next.server("server2");
      tls.server.setCredentials({ key: sc2.key, cert: sc2.cert, ca: [pki.ca.cert, next.ca.cert] });
      const oldTrust = GrpcClient.tls({ address: `127.0.0.1:${port}`, ca: pki.ca.cert, cert: cc.cert, key: cc.key });
      expect(code(await oldTrust.unary(M.Version, {}).catch((e) => e))).toBe("UNAVAILABLE");
      oldTrust.close();
      const nc = next.client("dave", { roles: ["os:admin"] });
      const after = GrpcClient.tls({ address: `127.0.0.1:${port}`, ca: next.ca.cert, cert: nc.cert, key: nc.key });
      expect((await after.unary(M.Version, {})).commit).toBe("CN=dave");
      after.close();
      // The stream opened before the renewal still flows: messages made well after it arrive.
      let last = "";
      for (let i = 0; i < 200 && last !== "f40"; i++) last = (await it.next()).value?.message ?? "";
      expect(last).toBe("f40");
      await it.return(undefined);
    } finally {
      before.close();
      const sc = pki.server();
      tls.server.setCredentials({ key: sc.key, cert: sc.cert, ca: pki.ca.cert });
      next.remove();
    }
  });

  test("listening on a port already taken rejects with EADDRINUSE, and close() still works", async () => {
    const sc = pki.server("dup");
    const s = new GrpcServer({ onError: () => {} });
    const err = await s.listenTls({ host: "127.0.0.1", port, key: sc.key, cert: sc.cert, ca: pki.ca.cert }).catch((e) => e);
    expect((err as NodeJS.ErrnoException).code).toBe("EADDRINUSE");
    await s.close();
  });

  test("closing the server cancels open calls with UNAVAILABLE-reason signals", async () => {
    const { server: s, observed: o } = fixtureServer();
    const p = join(dir, "close.sock");
    await s.listenUnix(p);
    const c = GrpcClient.unix(p);
    const it = c.stream(M.Logs, { id: "follow" });
    await it.next();
    await s.close();
    expect(await eventually(() => (o.aborts.Logs ?? []).length === 1)).toBe(true);
    expect(o.aborts.Logs![0]).toBe("UNAVAILABLE");
    await it.return(undefined);
    c.close();
  });
});
