/**
 * A bounded fuzz of the gRPC server: raw bytes and random HTTP/2 frames on the socket, then
 * well-formed HTTP/2 requests carrying garbled gRPC frames, mutated protobuf and random
 * metadata to every method. Seeded, so a failure replays (FUZZ_SEED=n). Afterwards a normal
 * call must still succeed, and every garbled call must have ended with an answer (a status, an
 * HTTP error or a reset), never hung.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { allMethods, MachineService as M } from "../core/api/gen/services.ts";
import { GrpcClient } from "../core/grpc/client.ts";
import type { Method } from "../core/grpc/method.ts";
import { fixtureServer } from "./lib/fixture-server.ts";
import { fuzzer, garble, PREFACE, randomFrame, rawSocket, tlsGarbage } from "./lib/grpc-fuzz.ts";
import { TestPki } from "./lib/pki.ts";
import { connectUnix } from "./lib/raw-h2.ts";

const fz = fuzzer();
const { int, bytes } = fz;

const dir = mkdtempSync(join(tmpdir(), "bunker-fuzz-"));
const sock = join(dir, "api.sock");
const errors: string[] = [];
const { server } = fixtureServer({ requestTimeoutMs: 200, maxReceiveMessageBytes: 64 * 1024, onError: (e, w) => errors.push(`${w}: ${e.message}`) });

// Every other method answers too, so garbled requests reach protobuf decoding everywhere.
for (const m of allMethods.values()) {
  if (server.methods.includes(m.path)) continue;
  if (m.responseStream) server.handle(m as Method<unknown, unknown, true>, async function* () { yield {}; });
  else server.handle(m as Method<unknown, unknown, false>, () => ({}));
}

beforeAll(() => server.listenUnix(sock));
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const unixSocket = () => net.connect(sock);

test("raw bytes and random HTTP/2 frames on the socket", async () => {
  for (let i = 0; i < 60; i++) {
    const kind = i % 3;
    if (kind === 0) await rawSocket(unixSocket, bytes(1 + int(200)));
    else if (kind === 1) await rawSocket(unixSocket, Buffer.concat([PREFACE, ...Array.from({ length: 1 + int(8) }, () => randomFrame(fz))]));
    else await rawSocket(unixSocket, Buffer.concat([PREFACE, Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]), ...Array.from({ length: 1 + int(8) }, () => randomFrame(fz))]));
  }
  const c = GrpcClient.unix(sock);
  expect((await c.unary(M.Version, {})).version).toBe("1.2.3");
  c.close();
}, 60_000);

test("garbled gRPC frames, mutated protobuf and random metadata to every method", async () => {
  const outcomes = await garble(fz, connectUnix(sock), 300);
  // Every call got an answer (rawCall rejects on a hang); most are statuses, some are OK
  // because random bytes can be a valid message.
  if (process.env.FUZZ_VERBOSE) console.log(outcomes);
  expect(Object.values(outcomes).reduce((a, b) => a + b, 0)).toBe(300);
  expect(outcomes["HTTP undefined"]).toBeUndefined();
  const c = GrpcClient.unix(sock);
  expect((await c.unary(M.Version, {})).version).toBe("1.2.3");
  expect((await Array.fromAsync(c.stream(M.Logs, { id: "x", tail: 3 }))).length).toBe(3);
  c.close();
}, 120_000);

test("the same over mutual TLS, and garbage in place of a TLS handshake", async () => {
  const pki = new TestPki();
  try {
    const sc = pki.server();
    const cc = pki.client("fuzzer", { roles: ["os:admin"] });
    const { port } = await server.listenTls({ host: "127.0.0.1", port: 0, key: sc.key, cert: sc.cert, ca: pki.ca.cert });
    for (let i = 0; i < 20; i++) await rawSocket(() => net.connect(port, "127.0.0.1"), tlsGarbage(fz, i));
    const session = http2.connect(`https://127.0.0.1:${port}`, { ca: pki.ca.cert, cert: cc.cert, key: cc.key });
    session.on("error", () => {});
    const outcomes = await garble(fz, session, 150);
    expect(Object.values(outcomes).reduce((a, b) => a + b, 0)).toBe(150);
    const c = GrpcClient.tls({ address: `127.0.0.1:${port}`, ca: pki.ca.cert, cert: cc.cert, key: cc.key });
    expect((await c.unary(M.Version, {})).version).toBe("1.2.3");
    c.close();
  } finally {
    pki.remove();
  }
}, 120_000);
