/**
 * The server's bounds on work before and around authorisation: the pre-body check, per-method
 * request limits, request bytes held per connection, and streams per connection. Real HTTP/2
 * on a unix socket, requests made with bare node:http2 so bodies can be left unfinished.
 */
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import type http2 from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bunker } from "../api/gen/api.js";
import { MachineService as M } from "../api/gen/services.ts";
import { connectUnix, rawCall, type RawAnswer } from "../../test/lib/raw-h2.ts";
import { eventually } from "../../test/lib/eventually.ts";
import { encodeFrame } from "./framing.ts";
import { GrpcServer, type CallContext, type ServerOptions } from "./server.ts";
import { GrpcError, Status } from "./status.ts";

const dir = mkdtempSync(join(tmpdir(), "bunker-grpc-limits-"));
let server: GrpcServer | undefined;
let raw: http2.ClientHttp2Session | undefined;
let n = 0;

afterEach(async () => {
  raw?.destroy();
  raw = undefined;
  await server?.close();
  server = undefined;
});
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));

const version = () => encodeFrame(bunker.machine.v1.VersionRequest.encode({}).finish());
/** A 5-byte prefix announcing a message of `len` bytes. */
const prefix = (len: number) => { const b = Buffer.alloc(5); b.writeUInt32BE(len, 1); return b; };

async function start(o: ServerOptions, setup: (s: GrpcServer) => void = () => {}): Promise<http2.ClientHttp2Session> {
  server = new GrpcServer(o);
  server.handle(M.Version, () => ({ version: "ok" }));
  setup(server);
  const sock = join(dir, `s${n++}.sock`);
  await server.listenUnix(sock);
  raw = connectUnix(sock);
  return raw;
}

test("the pre-body check sees method, metadata and peer, and refuses before any body is sent", async () => {
  const seen: string[] = [];
  let ran = 0;
  const s = await start({
    authorize: (ctx: CallContext) => {
      seen.push(`${ctx.method.name} ${ctx.metadata["x-who"]} ${ctx.peer.transport}`);
      if (ctx.metadata["x-who"] !== "friend") throw new GrpcError(Status.PERMISSION_DENIED, "not a friend");
    },
  }, (srv) => srv.handle(M.Hostname, () => { ran++; return { hostname: "h" }; }));
  // Headers only, the body never sent: the answer still comes.
  const refused = await rawCall(s, M.Hostname.path, [], { keepOpen: true, headers: { "x-who": "stranger" } });
  expect(refused.status).toBe(Status.PERMISSION_DENIED);
  expect(refused.message).toBe("not a friend");
  expect(ran).toBe(0);
  const ok = await rawCall(s, M.Hostname.path, encodeFrame(bunker.machine.v1.HostnameRequest.encode({}).finish()), { headers: { "x-who": "friend" } });
  expect(ok.status).toBe(Status.OK);
  expect(ran).toBe(1);
  expect(seen).toEqual(["Hostname stranger unix", "Hostname friend unix"]);
});

test("a pre-body check that throws a plain error refuses with PERMISSION_DENIED", async () => {
  const s = await start({ authorize: () => { throw new Error("no"); } });
  const a = await rawCall(s, M.Version.path, version());
  expect(a.status).toBe(Status.PERMISSION_DENIED);
  expect(a.message).toBe("no");
});

test("each method has its own request limit", async () => {
  const s = await start({ maxReceiveMessageBytes: 1024 }, (srv) => {
    srv.handle(M.ApplyConfiguration, (req) => ({ mode: `got ${req.data?.length}` } as never), { maxRequestBytes: 64 * 1024 });
  });
  const big = encodeFrame(bunker.machine.v1.ApplyConfigurationRequest.encode({ data: new Uint8Array(8 * 1024) }).finish());
  expect((await rawCall(s, M.ApplyConfiguration.path, big)).status).toBe(Status.OK);
  // Version keeps the server's default of 1 KiB: a 2 KiB message is refused from its prefix.
  const tooBig = await rawCall(s, M.Version.path, [prefix(2048), Buffer.alloc(2048)]);
  expect(tooBig.status).toBe(Status.RESOURCE_EXHAUSTED);
  expect(tooBig.message).toContain("Version request message of 2048 bytes is larger than the limit of 1024 bytes");
  expect(() => new GrpcServer().handle(M.Version, () => ({}), { maxRequestBytes: 0 })).toThrow(/maxRequestBytes must be a positive integer/);
});

test("request bytes held per connection are capped; freed when the call ends", async () => {
  const s = await start({ maxBufferedBytesPerConnection: 64 * 1024 }, (srv) => {
    srv.handle(M.ApplyConfiguration, () => ({}) as never, { maxRequestBytes: 1024 * 1024 });
  });
  // One call holds 60 KiB of an unfinished 100 KiB message...
  const holder = s.request({ ":method": "POST", ":path": M.ApplyConfiguration.path, "content-type": "application/grpc", te: "trailers" });
  holder.on("error", () => {});
  holder.write(prefix(100 * 1024));
  holder.write(Buffer.alloc(60 * 1024));
  // ...so, once the server holds those bytes, another on the same connection cannot add 10 KiB more.
  // Until they arrive a second call may still fit (and frees its bytes when it ends): try again
  // until the cap answers, boundedly, so a cap that never bites still fails the test.
  let second: RawAnswer | undefined;
  await eventually(async () => {
    second = await rawCall(s, M.ApplyConfiguration.path, [prefix(10 * 1024), Buffer.alloc(10 * 1024)]);
    return second.status === Status.RESOURCE_EXHAUSTED;
  });
  expect(second?.status).toBe(Status.RESOURCE_EXHAUSTED);
  expect(second?.message).toContain("this connection would exceed 65536 bytes");
  holder.close();
  await new Promise((r) => holder.once("close", r));
  const third = await rawCall(s, M.ApplyConfiguration.path, encodeFrame(bunker.machine.v1.ApplyConfigurationRequest.encode({ data: new Uint8Array(10 * 1024) }).finish()));
  expect(third.status).toBe(Status.OK);
});

test("streams per connection are capped by SETTINGS_MAX_CONCURRENT_STREAMS (default 100)", async () => {
  const s = await start({});
  await rawCall(s, M.Version.path, version());
  expect(s.remoteSettings.maxConcurrentStreams).toBe(100);
  raw!.destroy();
  await server!.close();
  const t = await start({ maxConcurrentStreams: 3 });
  await rawCall(t, M.Version.path, version());
  expect(t.remoteSettings.maxConcurrentStreams).toBe(3);
});
