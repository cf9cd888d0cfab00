/**
 * Pieces of a bounded, seeded fuzz of a gRPC server: a replayable PRNG, raw bytes and random
 * HTTP/2 frames on a fresh connection, and garbled gRPC calls (noise, random protobuf, flipped
 * bits, torn prefixes, random metadata) to every method on one HTTP/2 session.
 */
import type http2 from "node:http2";
import net from "node:net";
import { allMethods, MachineService as M } from "../../core/api/gen/services.ts";
import { encodeFrame } from "../../core/grpc/framing.ts";
import { statusName } from "../../core/grpc/status.ts";
import { rawCall } from "./raw-h2.ts";

export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20261125);

export interface Fuzz {
  rand: () => number;
  int: (n: number) => number;
  bytes: (n: number) => Buffer;
  pick: <T>(xs: readonly T[]) => T;
}

/** mulberry32: a small seeded PRNG so runs replay. */
export function fuzzer(seed = FUZZ_SEED): Fuzz {
  let a = seed >>> 0;
  const rand = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(rand() * n);
  return { rand, int, bytes: (n) => Buffer.from(Array.from({ length: n }, () => int(256))), pick: (xs) => xs[int(xs.length)]! };
}

/** Writes bytes on a fresh connection and waits until the server closes it (or 500 ms pass). */
export function rawSocket(connect: () => net.Socket, payload: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const s = connect();
    const done = () => { clearTimeout(t); s.destroy(); resolve(); };
    const t = setTimeout(done, 500);
    s.on("error", done);
    s.on("close", done);
    s.on("data", () => {});
    s.write(payload);
  });
}

export const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** One HTTP/2 frame with random type, flags, stream and payload (sometimes a lying length). */
export function randomFrame(f: Fuzz): Buffer {
  const payload = f.bytes(f.int(40));
  const h = Buffer.alloc(9);
  const len = f.rand() < 0.1 ? f.int(1 << 24) : payload.length;
  h.writeUIntBE(len, 0, 3);
  h[3] = f.int(11);
  h[4] = f.int(256);
  h.writeUInt32BE(f.rand() < 0.5 ? 1 + 2 * f.int(4) : f.int(2 ** 31), 5);
  return Buffer.concat([h, payload]);
}

/** Garbage in place of a TLS handshake: random bytes, or a handshake record header with noise. */
export function tlsGarbage(f: Fuzz, i: number): Buffer {
  return i % 2 ? f.bytes(1 + f.int(300)) : Buffer.concat([Buffer.from([0x16, 0x03, 0x01]), f.bytes(f.int(200))]);
}

/**
 * Sends `count` garbled calls on one HTTP/2 session (to every method but `skip`); returns how
 * each ended, by outcome ("INTERNAL", "RST 2", "HTTP 415", ...). rawCall rejects on a hang.
 */
export async function garble(f: Fuzz, session: http2.ClientHttp2Session, count: number, skip: readonly string[] = [M.Hostname.path]): Promise<Record<string, number>> {
  const methods = [...allMethods.values()].filter((m) => !skip.includes(m.path));
  const outcomes: Record<string, number> = {};
  try {
    for (let i = 0; i < count; i++) {
      const m = f.pick(methods);
      const valid = Buffer.from(m.requestType.encode({}).finish());
      let body: Buffer[];
      switch (i % 5) {
        case 0: body = [f.bytes(f.int(64))]; break; // noise, not even a frame
        case 1: body = [encodeFrame(f.bytes(f.int(64)))]; break; // a frame of random protobuf
        case 2: { // a valid-looking frame with flipped bits and a lying length
          const fr = encodeFrame(Buffer.concat([valid, f.bytes(f.int(16))]));
          for (let k = 0; k < 1 + f.int(3); k++) {
            const j = f.int(fr.length);
            fr[j] = fr[j]! ^ (1 << f.int(8));
          }
          body = [fr];
          break;
        }
        case 3: body = Array.from({ length: 1 + f.int(4) }, () => encodeFrame(f.bytes(f.int(32)))); break; // several frames
        default: body = [encodeFrame(valid).subarray(0, f.int(6))]; // torn prefix
      }
      const headers: Record<string, string> = {};
      if (f.rand() < 0.3) headers[`x-f${f.int(100)}`] = f.bytes(8).toString("base64");
      if (f.rand() < 0.2) headers[`x-f${f.int(100)}-bin`] = f.bytes(8).toString("hex");
      if (f.rand() < 0.1) headers["grpc-timeout"] = f.pick(["1m", "xx", "99999999H", "0n"]);
      const r = await rawCall(session, m.path, body, { headers, timeoutMs: 3000 });
      const key = r.status !== undefined ? statusName(r.status) : r.rstCode ? `RST ${r.rstCode}` : `HTTP ${r.headers[":status"]}`;
      outcomes[key] = (outcomes[key] ?? 0) + 1;
    }
  } finally {
    session.close();
  }
  return outcomes;
}
