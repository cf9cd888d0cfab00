/**
 * A small ASN.1 DER writer and reader: just what X.509 certificates, PKCS#10 requests and key
 * structures need. The writer builds TLVs from bytes; the reader is strict (definite, minimal
 * lengths; no trailing bytes) because it reads certificates that arrive from the network, and a
 * lax reader is how two parsers come to disagree about what a certificate says.
 */

export class DerError extends Error {
  constructor(message: string, readonly offset: number) {
    super(`DER: ${message} at byte ${offset}`);
    this.name = "DerError";
  }
}

/** Universal tags used here (class universal; constructed bit added for SEQUENCE/SET). */
export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  T61_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

// ---------------------------------------------------------------------------------------------
// Writer

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function encodeLength(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

/** One TLV with a single-byte tag (all tags in X.509 fit in one byte). */
export function tlv(tag: number, content: Uint8Array): Uint8Array {
  return concat([Uint8Array.of(tag), encodeLength(content.length), content]);
}

export const seq = (...items: Uint8Array[]): Uint8Array => tlv(Tag.SEQUENCE, concat(items));

/** A SET OF: DER requires the elements sorted by their encodings. */
export function set(...items: Uint8Array[]): Uint8Array {
  const sorted = [...items].sort(compareBytes);
  return tlv(Tag.SET, concat(sorted));
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** An INTEGER from a bigint (two's complement, minimal) or from unsigned big-endian bytes. */
export function int(value: bigint | number | Uint8Array): Uint8Array {
  if (value instanceof Uint8Array) {
    let i = 0;
    while (i < value.length - 1 && value[i] === 0) i++;
    const mag = value.subarray(i);
    const body = mag.length === 0 ? Uint8Array.of(0) : mag[0]! & 0x80 ? concat([Uint8Array.of(0), mag]) : mag;
    return tlv(Tag.INTEGER, body);
  }
  let v = BigInt(value);
  const bytes: number[] = [];
  if (v >= 0n) {
    do {
      bytes.unshift(Number(v & 0xffn));
      v >>= 8n;
    } while (v > 0n);
    if (bytes[0]! & 0x80) bytes.unshift(0);
  } else {
    do {
      bytes.unshift(Number(v & 0xffn));
      v >>= 8n;
    } while (v < -1n || (bytes[0]! & 0x80) === 0);
  }
  return tlv(Tag.INTEGER, Uint8Array.from(bytes));
}

export const bool = (v: boolean): Uint8Array => tlv(Tag.BOOLEAN, Uint8Array.of(v ? 0xff : 0));
export const nul = (): Uint8Array => Uint8Array.of(Tag.NULL, 0);
export const octets = (b: Uint8Array): Uint8Array => tlv(Tag.OCTET_STRING, b);
export const utf8 = (s: string): Uint8Array => tlv(Tag.UTF8_STRING, new TextEncoder().encode(s));
export const ia5 = (s: string): Uint8Array => {
  if (!/^[\x00-\x7f]*$/.test(s)) throw new DerError(`IA5String holds only ASCII, got ${JSON.stringify(s)}`, 0);
  return tlv(Tag.IA5_STRING, new TextEncoder().encode(s));
};

/** A BIT STRING holding whole bytes (keys, signatures). */
export const bits = (b: Uint8Array, unusedBits = 0): Uint8Array => tlv(Tag.BIT_STRING, concat([Uint8Array.of(unusedBits), b]));

/**
 * A BIT STRING of named bits (bit 0 = most significant bit of the first byte), in DER's minimal
 * form: trailing zero bits are dropped and counted as unused (X.509 keyUsage depends on it).
 */
export function namedBits(set: readonly number[]): Uint8Array {
  if (set.length === 0) return tlv(Tag.BIT_STRING, Uint8Array.of(0));
  const last = Math.max(...set);
  const bytes = new Uint8Array(Math.floor(last / 8) + 1);
  for (const b of set) bytes[b >> 3]! |= 0x80 >> (b & 7);
  return bits(bytes, 7 - (last & 7));
}

export function oid(dotted: string): Uint8Array {
  const arcs = dotted.split(".").map((a) => {
    if (!/^\d+$/.test(a)) throw new DerError(`bad OID ${JSON.stringify(dotted)}`, 0);
    return BigInt(a);
  });
  if (arcs.length < 2 || arcs[0]! > 2n || (arcs[0]! < 2n && arcs[1]! > 39n)) throw new DerError(`bad OID ${JSON.stringify(dotted)}`, 0);
  const out: number[] = [];
  const push = (v: bigint) => {
    const chunk: number[] = [Number(v & 0x7fn)];
    for (v >>= 7n; v > 0n; v >>= 7n) chunk.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...chunk);
  };
  push(arcs[0]! * 40n + arcs[1]!);
  for (const a of arcs.slice(2)) push(a);
  return tlv(Tag.OID, Uint8Array.from(out));
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; always UTC, whole seconds. */
export function time(d: Date): Uint8Array {
  if (Number.isNaN(d.getTime())) throw new DerError("invalid date", 0);
  const y = d.getUTCFullYear();
  const rest = `${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}Z`;
  if (y >= 1950 && y < 2050) return tlv(Tag.UTC_TIME, new TextEncoder().encode(pad(y % 100) + rest));
  return tlv(Tag.GENERALIZED_TIME, new TextEncoder().encode(pad(y, 4) + rest));
}

/** Context-specific [n]: explicit (constructed, wraps a whole TLV) or implicit (replaces the tag). */
export const explicit = (n: number, inner: Uint8Array): Uint8Array => tlv(0xa0 | n, inner);
export const implicitPrimitive = (n: number, content: Uint8Array): Uint8Array => tlv(0x80 | n, content);
export const implicitConstructed = (n: number, content: Uint8Array): Uint8Array => tlv(0xa0 | n, content);

// ---------------------------------------------------------------------------------------------
// Reader

export interface Node {
  /** The identifier octet (class, constructed bit and tag number). */
  tag: number;
  /** Offset of the TLV in the outermost buffer, for error messages. */
  offset: number;
  /** The whole TLV (what a signature covers). */
  raw: Uint8Array;
  /** The value bytes. */
  content: Uint8Array;
}

/** Reads one TLV at `at`; returns it and the offset after it. `base` is only for messages. */
export function readNode(buf: Uint8Array, at = 0, base = 0): { node: Node; next: number } {
  const where = base + at;
  if (at >= buf.length) throw new DerError("unexpected end of data (tag expected)", where);
  const tag = buf[at]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError(`multi-byte tag 0x${tag.toString(16)} not supported`, where);
  if (at + 1 >= buf.length) throw new DerError("unexpected end of data (length expected)", where);
  let len = buf[at + 1]!;
  let p = at + 2;
  if (len === 0x80) throw new DerError("indefinite length is not DER", where);
  if (len > 0x80) {
    const n = len & 0x7f;
    if (n > 4) throw new DerError(`length of ${n} bytes is too large`, where);
    if (p + n > buf.length) throw new DerError("unexpected end of data in length", where);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    if (buf[p] === 0 || len < 0x80) throw new DerError("length not minimally encoded", where);
    p += n;
  }
  if (p + len > buf.length) throw new DerError(`value of ${len} bytes runs past the end (${buf.length - p} left)`, where);
  return { node: { tag, offset: where, raw: buf.subarray(at, p + len), content: buf.subarray(p, p + len) }, next: p + len };
}

/** Parses a buffer that must hold exactly one TLV. */
export function parse(buf: Uint8Array): Node {
  const { node, next } = readNode(buf, 0, 0);
  if (next !== buf.length) throw new DerError(`${buf.length - next} trailing bytes after the value`, next);
  return node;
}

const headerLength = (n: Node) => n.raw.length - n.content.length;

/** The children of a constructed node. */
export function children(n: Node): Node[] {
  if ((n.tag & 0x20) === 0) throw new DerError(`tag 0x${n.tag.toString(16)} is not constructed`, n.offset);
  const out: Node[] = [];
  const base = n.offset + headerLength(n);
  for (let p = 0; p < n.content.length; ) {
    const r = readNode(n.content, p, base);
    out.push(r.node);
    p = r.next;
  }
  return out;
}

export function expectTag(n: Node | undefined, tag: number, what: string): Node {
  if (!n) throw new DerError(`${what}: missing (expected tag 0x${tag.toString(16)})`, -1);
  if (n.tag !== tag) throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, found 0x${n.tag.toString(16)}`, n.offset);
  return n;
}

/** Children of a SEQUENCE (or any constructed tag given), checking the tag. */
export const seqOf = (n: Node | undefined, what: string, tag: number = Tag.SEQUENCE): Node[] => children(expectTag(n, tag, what));

export function readInt(n: Node | undefined, what: string): bigint {
  const c = expectTag(n, Tag.INTEGER, what).content;
  if (c.length === 0) throw new DerError(`${what}: empty INTEGER`, n!.offset);
  if (c.length > 1 && ((c[0] === 0 && !(c[1]! & 0x80)) || (c[0] === 0xff && c[1]! & 0x80))) {
    throw new DerError(`${what}: INTEGER not minimally encoded`, n!.offset);
  }
  let v = 0n;
  for (const b of c) v = (v << 8n) | BigInt(b);
  if (c[0]! & 0x80) v -= 1n << BigInt(c.length * 8);
  return v;
}

export function readBool(n: Node | undefined, what: string): boolean {
  const c = expectTag(n, Tag.BOOLEAN, what).content;
  if (c.length !== 1 || (c[0] !== 0 && c[0] !== 0xff)) throw new DerError(`${what}: BOOLEAN must be one byte 00 or FF`, n!.offset);
  return c[0] === 0xff;
}

export function readOid(n: Node | undefined, what: string): string {
  const c = expectTag(n, Tag.OID, what).content;
  if (c.length === 0 || c[c.length - 1]! & 0x80) throw new DerError(`${what}: truncated OID`, n!.offset);
  const arcs: bigint[] = [];
  let v = 0n;
  for (let i = 0; i < c.length; i++) {
    if (v === 0n && c[i] === 0x80) throw new DerError(`${what}: OID arc not minimally encoded`, n!.offset);
    v = (v << 7n) | BigInt(c[i]! & 0x7f);
    if (!(c[i]! & 0x80)) {
      arcs.push(v);
      v = 0n;
    }
  }
  const first = arcs.shift()!;
  const head = first < 80n ? [first / 40n, first % 40n] : [2n, first - 80n];
  return [...head, ...arcs].join(".");
}

/** A BIT STRING's bytes; `wholeBytes` demands 0 unused bits (keys, signatures). */
export function readBits(n: Node | undefined, what: string): { bytes: Uint8Array; unused: number } {
  const c = expectTag(n, Tag.BIT_STRING, what).content;
  if (c.length === 0 || c[0]! > 7 || (c.length === 1 && c[0] !== 0)) throw new DerError(`${what}: bad BIT STRING`, n!.offset);
  return { bytes: c.subarray(1), unused: c[0]! };
}

/** The set bit numbers of a named-bit BIT STRING (bit 0 = MSB of the first byte). */
export function readNamedBits(n: Node | undefined, what: string): number[] {
  const { bytes, unused } = readBits(n, what);
  const out: number[] = [];
  for (let i = 0; i < bytes.length * 8 - unused; i++) if (bytes[i >> 3]! & (0x80 >> (i & 7))) out.push(i);
  return out;
}

const STRING_TAGS: Set<number> = new Set([Tag.UTF8_STRING, Tag.PRINTABLE_STRING, Tag.IA5_STRING, Tag.T61_STRING]);

/** Any of the directory string types that certificates in the wild use. */
export function readString(n: Node | undefined, what: string): string {
  if (!n) throw new DerError(`${what}: missing string`, -1);
  if (n.tag === Tag.BMP_STRING) {
    let s = "";
    for (let i = 0; i + 1 < n.content.length; i += 2) s += String.fromCharCode((n.content[i]! << 8) | n.content[i + 1]!);
    return s;
  }
  if (!STRING_TAGS.has(n.tag)) throw new DerError(`${what}: expected a string, found tag 0x${n.tag.toString(16)}`, n.offset);
  if (n.tag === Tag.UTF8_STRING) {
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(n.content);
    } catch {
      throw new DerError(`${what}: invalid UTF-8 in UTF8String`, n.offset);
    }
  }
  return String.fromCharCode(...n.content);
}

export function readTime(n: Node | undefined, what: string): Date {
  if (!n) throw new DerError(`${what}: missing time`, -1);
  const s = String.fromCharCode(...n.content);
  let m: RegExpMatchArray | null;
  let year: number;
  if (n.tag === Tag.UTC_TIME && (m = s.match(/^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/))) {
    const yy = Number(m[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
  } else if (n.tag === Tag.GENERALIZED_TIME && (m = s.match(/^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/))) {
    year = Number(m[1]);
  } else {
    throw new DerError(`${what}: expected UTCTime or GeneralizedTime in UTC (…Z), found ${JSON.stringify(s)}`, n.offset);
  }
  const [mo, d, h, mi, se] = [2, 3, 4, 5, 6].map((i) => Number(m![i]));
  const date = new Date(Date.UTC(year, mo! - 1, d!, h!, mi!, se!));
  if (date.getUTCMonth() !== mo! - 1 || date.getUTCDate() !== d) throw new DerError(`${what}: no such date ${JSON.stringify(s)}`, n.offset);
  return date;
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
export { concat };
