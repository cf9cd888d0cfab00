import { formatIPv6 } from "../ipformat/ipv6.ts";
/**
 * IP addresses and CIDR prefixes, parsed strictly (no leading zeros in IPv4 octets, no zones) so a
 * config that validates here is one the kernel accepts as written.
 */

export type Family = 4 | 6;

export interface IP {
  family: Family;
  /** 4 or 16 bytes. */
  bytes: Uint8Array;
}

export interface CIDR {
  ip: IP;
  prefix: number;
}

const OCTET = /^(0|[1-9][0-9]{0,2})$/;

function parseV4(s: string): Uint8Array | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!OCTET.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

const HEXTET = /^[0-9a-fA-F]{1,4}$/;

function parseV6(s: string): Uint8Array | undefined {
  if (s.length > 45) return undefined;
  // An embedded IPv4 tail (::ffff:10.0.0.1) is rewritten as its two hextets.
  if (s.includes(".")) {
    const lastColon = s.lastIndexOf(":");
    const v4 = parseV4(s.slice(lastColon + 1));
    if (!v4) return undefined;
    const hex = (a: number, b: number) => ((a << 8) | b).toString(16);
    s = `${s.slice(0, lastColon + 1)}${hex(v4[0]!, v4[1]!)}:${hex(v4[2]!, v4[3]!)}`;
  }
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const split = (h: string) => (h === "" ? [] : h.split(":"));
  const head = split(halves[0]!);
  const tail = halves.length === 2 ? split(halves[1]!) : [];
  for (const h of [...head, ...tail]) if (!HEXTET.test(h)) return undefined;
  const total = head.length + tail.length;
  if (halves.length === 2 ? total > 7 : total !== 8) return undefined;
  const words = [...head, ...Array<string>(8 - total).fill("0"), ...tail].map((h) => parseInt(h, 16));
  const out = new Uint8Array(16);
  words.forEach((w, i) => { out[2 * i] = w >> 8; out[2 * i + 1] = w & 0xff; });
  return out;
}

export function parseIP(s: string): IP | undefined {
  if (typeof s !== "string") return undefined;
  const v4 = parseV4(s);
  if (v4) return { family: 4, bytes: v4 };
  if (!s.includes(":")) return undefined;
  const v6 = parseV6(s);
  return v6 ? { family: 6, bytes: v6 } : undefined;
}

export function parseCIDR(s: string): CIDR | undefined {
  if (typeof s !== "string") return undefined;
  const slash = s.indexOf("/");
  if (slash < 0) return undefined;
  const ip = parseIP(s.slice(0, slash));
  const p = s.slice(slash + 1);
  if (!ip || !/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
  const prefix = Number(p);
  if (prefix > ip.bytes.length * 8) return undefined;
  return { ip, prefix };
}

/** Why `s` is not a CIDR prefix, for error messages; undefined when it is one. */
export function cidrError(s: string): string | undefined {
  const slash = s.indexOf("/");
  if (slash < 0) return parseIP(s) ? `a prefix length is missing (e.g. "${s}/${s.includes(":") ? 64 : 24}")` : "not an address with a prefix length";
  const ip = parseIP(s.slice(0, slash));
  if (!ip) return `"${s.slice(0, slash)}" is not an IPv4 or IPv6 address`;
  if (!parseCIDR(s)) return `the prefix length must be 0-${ip.bytes.length * 8} for IPv${ip.family}`;
  return undefined;
}

/** The prefix with its host bits cleared. */
export function networkOf(c: CIDR): CIDR {
  const bytes = new Uint8Array(c.ip.bytes);
  for (let bit = c.prefix; bit < bytes.length * 8; bit++) bytes[bit >> 3]! &= ~(0x80 >> (bit & 7));
  return { ip: { family: c.ip.family, bytes }, prefix: c.prefix };
}

export function hasHostBits(c: CIDR): boolean {
  return !sameIP(networkOf(c).ip, c.ip);
}

export function sameIP(a: IP, b: IP): boolean {
  return a.family === b.family && a.bytes.every((x, i) => x === b.bytes[i]);
}

export function contains(net: CIDR, ip: IP): boolean {
  if (net.ip.family !== ip.family) return false;
  return sameIP(networkOf(net).ip, networkOf({ ip, prefix: net.prefix }).ip);
}

/** The canonical text: dotted quad, or RFC 5952 IPv6 (lower case, longest zero run as ::). */
export function formatIP(ip: IP): string {
  if (ip.family === 4) return Array.from(ip.bytes).join(".");
  return formatIPv6(ip.bytes);
}

export function formatCIDR(c: CIDR): string {
  return `${formatIP(c.ip)}/${c.prefix}`;
}
