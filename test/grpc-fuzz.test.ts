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
import { encodeFrame } from "../core/grpc/framing.ts";
import type { Method } from "../core/grpc/method.ts";
import { statusName } from "../core/grpc/status.ts";
import { fixtureServer } from "./lib/fixture-server.ts";
import { TestPki } from "./lib/pki.ts";
import { connectUnix, rawCall } from "./lib/raw-h2.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 20261125);
/** mulberry32: a small seeded PRNG so runs replay. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = prng(SEED);
const int = (n: number) => Math.floor(rand() * n);
const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;

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

/** Writes bytes on a fresh connection and waits until the server closes it (or 500 ms pass). */
function rawSocket(payload: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect(sock);
    const done = () => { clearTimeout(t); s.destroy(); resolve(); };
    const t = setTimeout(done, 500);
    s.on("error", done);
    s.on("close", done);
    s.on("data", () => {});
    s.write(payload);
  });
}

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
/** One HTTP/2 frame with random type, flags, stream and payload (sometimes a lying length). */
function randomFrame(): Buffer {
  const payload = bytes(int(40));
  const h = Buffer.alloc(9);
  const len = rand() < 0.1 ? int(1 << 24) : payload.length;
  h.writeUIntBE(len, 0, 3);
  h[3] = int(11);
  h[4] = int(256);
  h.writeUInt32BE(rand() < 0.5 ? 1 + 2 * int(4) : int(2 ** 31), 5);
  return Buffer.concat([h, payload]);
}

test("raw bytes and random HTTP/2 frames on the socket", async () => {
  for (let i = 0; i < 60; i++) {
    const kind = i % 3;
    if (kind === 0) await rawSocket(bytes(1 + int(200)));
    else if (kind === 1) await rawSocket(Buffer.concat([PREFACE, ...Array.from({ length: 1 + int(8) }, randomFrame)]));
    else await rawSocket(Buffer.concat([PREFACE, Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]), ...Array.from({ length: 1 + int(8) }, randomFrame)]));
  }
  const c = GrpcClient.unix(sock);
  expect((await c.unary(M.Version, {})).version).toBe("1.2.3");
  c.close();
}, 60_000);

/** Sends `count` garbled calls on one HTTP/2 session; returns how each ended, by outcome. */
async function garble(session: http2.ClientHttp2Session, count: number): Promise<Record<string, number>> {
  // Hostname's fixture handler waits 10 s by design (for deadline tests): leave it out.
  const methods = [...allMethods.values()].filter((m) => m !== M.Hostname);
  const outcomes: Record<string, number> = {};
  try {
    for (let i = 0; i < count; i++) {
      const m = pick(methods);
      const valid = Buffer.from(m.requestType.encode({}).finish());
      let body: Buffer[];
      switch (i % 5) {
        case 0: body = [bytes(int(64))]; break; // noise, not even a frame
        case 1: body = [encodeFrame(bytes(int(64)))]; break; // a frame of random protobuf
        case 2: { // a valid-looking frame with flipped bits and a lying length
          const f = encodeFrame(Buffer.concat([valid, bytes(int(16))]));
          for (let k = 0; k < 1 + int(3); k++) {
            const j = int(f.length);
            f[j] = f[j]! ^ (1 << int(8));
          }
          body = [f];
          break;
        }
        case 3: body = Array.from({ length: 1 + int(4) }, () => encodeFrame(bytes(int(32)))); break; // several frames
        default: body = [encodeFrame(valid).subarray(0, int(6))]; // torn prefix
      }
      const headers: Record<string, string> = {};
      if (rand() < 0.3) headers[`x-f${int(100)}`] = bytes(8).toString("base64");
      if (rand() < 0.2) headers[`x-f${int(100)}-bin`] = bytes(8).toString("hex");
      if (rand() < 0.1) headers["grpc-timeout"] = pick(["1m", "xx", "99999999H", "0n"]);
      const r = await rawCall(session, m.path, body, { headers, timeoutMs: 3000 });
      const key = r.status !== undefined ? statusName(r.status) : r.rstCode ? `RST ${r.rstCode}` : `HTTP ${r.headers[":status"]}`;
      outcomes[key] = (outcomes[key] ?? 0) + 1;
    }
  } finally {
    session.close();
  }
  return outcomes;
}

test("garbled gRPC frames, mutated protobuf and random metadata to every method", async () => {
  const outcomes = await garble(connectUnix(sock), 300);
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
    for (let i = 0; i < 20; i++) {
      await new Promise<void>((resolve) => {
        const s = net.connect(port, "127.0.0.1");
        const done = () => { clearTimeout(t); s.destroy(); resolve(); };
        const t = setTimeout(done, 500);
        s.on("error", done).on("close", done).on("data", () => {});
        s.write(i % 2 ? bytes(1 + int(300)) : Buffer.concat([Buffer.from([0x16, 0x03, 0x01]), bytes(int(200))]));
      });
    }
    const session = http2.connect(`https://127.0.0.1:${port}`, { ca: pki.ca.cert, cert: cc.cert, key: cc.key });
    session.on("error", () => {});
    const outcomes = await garble(session, 150);
    expect(Object.values(outcomes).reduce((a, b) => a + b, 0)).toBe(150);
    const c = GrpcClient.tls({ address: `127.0.0.1:${port}`, ca: pki.ca.cert, cert: cc.cert, key: cc.key });
    expect((await c.unary(M.Version, {})).version).toBe("1.2.3");
    c.close();
  } finally {
    pki.remove();
  }
}, 120_000);
