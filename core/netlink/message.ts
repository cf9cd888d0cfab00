/**
 * Netlink framing in pure TypeScript: message headers, attributes (TLVs, 4-byte aligned, nested)
 * and NLMSG_ERROR payloads. Nothing here touches a socket, so it is tested on byte fixtures.
 * Everything is little-endian: netlink uses host order, and Bunker runs on x86_64 and arm64.
 */
import { NLA_F_NESTED, NLA_TYPE_MASK, NLMSG, NLMSG_HDRLEN, NLMSGERR_ATTR, NLM_F } from "./consts.ts";

export const align4 = (n: number): number => (n + 3) & ~3;

export interface NlMsg {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** The bytes after the 16-byte header. */
  payload: Uint8Array;
}

/** A malformed netlink message or attribute: the kernel never sends one, so this is a bug or corruption. */
export class NetlinkDecodeError extends Error {
  constructor(what: string, offset: number) {
    super(`malformed netlink data: ${what} at byte ${offset}`);
    this.name = "NetlinkDecodeError";
  }
}

export function encodeMsg(type: number, flags: number, seq: number, payload: Uint8Array): Uint8Array {
  const len = NLMSG_HDRLEN + payload.byteLength;
  const out = new Uint8Array(align4(len));
  const dv = new DataView(out.buffer);
  dv.setUint32(0, len, true);
  dv.setUint16(4, type, true);
  dv.setUint16(6, flags, true);
  dv.setUint32(8, seq, true);
  dv.setUint32(12, 0, true);
  out.set(payload, NLMSG_HDRLEN);
  return out;
}

/** Splits one received datagram into its messages; throws NetlinkDecodeError on bad lengths. */
export function decodeMsgs(buf: Uint8Array): NlMsg[] {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: NlMsg[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.byteLength) {
    const len = dv.getUint32(off, true);
    if (len < NLMSG_HDRLEN || off + len > buf.byteLength) throw new NetlinkDecodeError(`message length ${len}`, off);
    out.push({
      type: dv.getUint16(off + 4, true),
      flags: dv.getUint16(off + 6, true),
      seq: dv.getUint32(off + 8, true),
      pid: dv.getUint32(off + 12, true),
      payload: buf.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += align4(len);
  }
  if (off < buf.byteLength && buf.byteLength - off >= 4) throw new NetlinkDecodeError("trailing bytes", off);
  return out;
}

// ---- attributes ----

export type Attr = { type: number; data: Uint8Array } | { type: number; nested: Attr[] };

export const attr = {
  bytes: (type: number, data: Uint8Array): Attr => ({ type, data }),
  u8: (type: number, v: number): Attr => ({ type, data: Uint8Array.of(v) }),
  u16: (type: number, v: number): Attr => {
    const d = new Uint8Array(2);
    new DataView(d.buffer).setUint16(0, v, true);
    return { type, data: d };
  },
  u32: (type: number, v: number): Attr => {
    const d = new Uint8Array(4);
    new DataView(d.buffer).setUint32(0, v >>> 0, true);
    return { type, data: d };
  },
  str: (type: number, s: string): Attr => ({ type, data: new TextEncoder().encode(s + "\0") }),
  nest: (type: number, nested: Attr[]): Attr => ({ type, nested }),
};

function attrSize(a: Attr): number {
  return 4 + ("data" in a ? a.data.byteLength : a.nested.reduce((n, x) => n + align4(attrSize(x)), 0));
}

export function encodeAttrs(attrs: Attr[]): Uint8Array {
  const total = attrs.reduce((n, a) => n + align4(attrSize(a)), 0);
  const out = new Uint8Array(total);
  writeAttrs(out, 0, attrs);
  return out;
}

function writeAttrs(out: Uint8Array, off: number, attrs: Attr[]): number {
  const dv = new DataView(out.buffer, out.byteOffset);
  for (const a of attrs) {
    const size = attrSize(a);
    dv.setUint16(off, size, true);
    if ("data" in a) {
      dv.setUint16(off + 2, a.type, true);
      out.set(a.data, off + 4);
    } else {
      dv.setUint16(off + 2, a.type | NLA_F_NESTED, true);
      writeAttrs(out, off + 4, a.nested);
    }
    off += align4(size);
  }
  return off;
}

/** Attributes of one level, by type (the last one wins when a type repeats). */
export type AttrMap = Map<number, Uint8Array>;

export function decodeAttrs(buf: Uint8Array): AttrMap {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: AttrMap = new Map();
  let off = 0;
  while (off + 4 <= buf.byteLength) {
    const len = dv.getUint16(off, true);
    if (len < 4 || off + len > buf.byteLength) throw new NetlinkDecodeError(`attribute length ${len}`, off);
    out.set(dv.getUint16(off + 2, true) & NLA_TYPE_MASK, buf.subarray(off + 4, off + len));
    off += align4(len);
  }
  return out;
}

export const get = {
  u8: (m: AttrMap, t: number): number | undefined => m.get(t)?.[0],
  u16: (m: AttrMap, t: number): number | undefined => {
    const d = m.get(t);
    return d && d.byteLength >= 2 ? new DataView(d.buffer, d.byteOffset).getUint16(0, true) : undefined;
  },
  u32: (m: AttrMap, t: number): number | undefined => {
    const d = m.get(t);
    return d && d.byteLength >= 4 ? new DataView(d.buffer, d.byteOffset).getUint32(0, true) : undefined;
  },
  str: (m: AttrMap, t: number): string | undefined => {
    const d = m.get(t);
    if (!d) return undefined;
    const nul = d.indexOf(0);
    return new TextDecoder().decode(nul >= 0 ? d.subarray(0, nul) : d);
  },
  nested: (m: AttrMap, t: number): AttrMap | undefined => {
    const d = m.get(t);
    return d ? decodeAttrs(d) : undefined;
  },
};

// ---- NLMSG_ERROR ----

export interface NlError {
  /** 0 for an ACK; otherwise a positive errno. */
  errno: number;
  /** The kernel's extended-ack message, when it gave one. */
  message?: string;
}

export function decodeError(msg: NlMsg): NlError {
  if (msg.type !== NLMSG.ERROR) throw new NetlinkDecodeError(`type ${msg.type} is not NLMSG_ERROR`, 0);
  const p = msg.payload;
  if (p.byteLength < 4 + NLMSG_HDRLEN) throw new NetlinkDecodeError("short NLMSG_ERROR", 0);
  const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const err = -dv.getInt32(0, true) | 0;
  const out: NlError = { errno: err };
  if (msg.flags & NLM_F.ACK_TLVS) {
    // The echoed request is only its header when CAPPED, else the whole request.
    const origLen = msg.flags & NLM_F.CAPPED ? NLMSG_HDRLEN : dv.getUint32(4, true);
    const tlvStart = 4 + align4(origLen);
    if (tlvStart <= p.byteLength) {
      const m = get.str(decodeAttrs(p.subarray(tlvStart)), NLMSGERR_ATTR.MSG);
      if (m) out.message = m;
    }
  }
  return out;
}
