/** SNTPv4 (RFC 4330) packets and the offset/delay arithmetic, in pure TypeScript. */

/** Seconds from the NTP era (1900) to the Unix epoch (1970). */
const NTP_UNIX_DELTA = 2208988800;
export const NTP_PACKET_LEN = 48;

export class SntpError extends Error {
  constructor(what: string) {
    super(what);
    this.name = "SntpError";
  }
}

/** Unix ms (fractional) -> 8-byte NTP timestamp. */
export function toNtp(ms: number, out: DataView, off: number): void {
  const secs = Math.floor(ms / 1000);
  const frac = Math.floor(((ms - secs * 1000) / 1000) * 2 ** 32);
  out.setUint32(off, (secs + NTP_UNIX_DELTA) >>> 0);
  out.setUint32(off + 4, frac >>> 0);
}

export function fromNtp(dv: DataView, off: number): number {
  const secs = dv.getUint32(off), frac = dv.getUint32(off + 4);
  return (secs - NTP_UNIX_DELTA) * 1000 + (frac / 2 ** 32) * 1000;
}

/** A client request (LI 0, version 4, mode 3) whose transmit timestamp is `t1`. */
export function encodeRequest(t1: number): Uint8Array {
  const b = new Uint8Array(NTP_PACKET_LEN);
  b[0] = (0 << 6) | (4 << 3) | 3;
  toNtp(t1, new DataView(b.buffer), 40);
  return b;
}

export interface SntpSample {
  /** Add this to the local clock to get the server's time (ms). */
  offsetMs: number;
  /** Round trip minus the server's processing time (ms). */
  delayMs: number;
  stratum: number;
}

/**
 * Checks a reply against the request it answers and computes offset and delay (RFC 4330 5):
 * offset = ((T2 - T1) + (T3 - T4)) / 2, delay = (T4 - T1) - (T3 - T2).
 */
export function decodeReply(buf: Uint8Array, request: Uint8Array, t4: number): SntpSample {
  if (buf.byteLength < NTP_PACKET_LEN) throw new SntpError(`reply of ${buf.byteLength} bytes, expected ${NTP_PACKET_LEN}`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const li = buf[0]! >> 6, mode = buf[0]! & 7, stratum = buf[1]!;
  if (mode !== 4) throw new SntpError(`reply mode ${mode}, expected 4 (server)`);
  if (stratum === 0) throw new SntpError(`kiss-of-death from server (${new TextDecoder().decode(buf.subarray(12, 16))})`);
  if (li === 3 || stratum > 15) throw new SntpError("server clock is not synchronised");
  // The origin timestamp must echo our transmit timestamp: otherwise it answers someone else.
  for (let i = 0; i < 8; i++) if (buf[24 + i] !== request[40 + i]) throw new SntpError("reply does not answer our request (origin mismatch)");
  const rq = new DataView(request.buffer, request.byteOffset);
  const t1 = fromNtp(rq, 40), t2 = fromNtp(dv, 32), t3 = fromNtp(dv, 40);
  if (dv.getUint32(40) === 0) throw new SntpError("reply has no transmit timestamp");
  return { offsetMs: (t2 - t1 + (t3 - t4)) / 2, delayMs: t4 - t1 - (t3 - t2), stratum };
}

/** A server reply (used by tests and benches that stand in for a server). */
export function encodeReply(request: Uint8Array, receiveMs: number, transmitMs: number, stratum = 1): Uint8Array {
  const b = new Uint8Array(NTP_PACKET_LEN);
  const dv = new DataView(b.buffer);
  b[0] = (0 << 6) | (4 << 3) | 4;
  b[1] = stratum;
  b.set(request.subarray(40, 48), 24);
  toNtp(receiveMs, dv, 32);
  toNtp(transmitMs, dv, 40);
  return b;
}
