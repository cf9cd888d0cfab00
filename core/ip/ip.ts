/**
 * IP addresses and CIDR prefixes: the one parser and printer for the config, netlink, DHCP,
 * X.509 names, networkd and the cluster planner. Parsing is strict (no leading zeros in IPv4
 * octets, no zones), so an address the config accepts is one the kernel takes as written; text
 * is printed as ip(8) prints it (RFC 5952, IPv4-mapped addresses in mixed notation).
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

/** An address or prefix that does not parse; the message names the text and why. */
export class AddressError extends Error {
  override name = "AddressError";
  constructor(text: string, why: string) {
    super(`invalid IP address "${text}": ${why}`);
  }
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

/** The address `s` names, or undefined. */
export function parseIP(s: string): IP | undefined {
  if (typeof s !== "string") return undefined;
  const v4 = parseV4(s);
  if (v4) return { family: 4, bytes: v4 };
  if (!s.includes(":")) return undefined;
  const v6 = parseV6(s);
  return v6 ? { family: 6, bytes: v6 } : undefined;
}

export const isIP = (s: string): boolean => parseIP(s) !== undefined;

/** The prefix `s` names (ADDRESS/LENGTH), or undefined. */
export function parseCIDR(s: string): CIDR | undefined {
  if (typeof s !== "string") return undefined;
  const slash = s.indexOf("/");
  if (slash < 0) return undefined;
  const ip = parseIP(s.slice(0, slash));
  const p = s.slice(slash + 1);
  if (!ip || !OCTET.test(p)) return undefined;
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

/** parseIP for text that must be an address (from the kernel, a lease, a checked config): throws AddressError. */
export function ipOf(s: string): IP {
  const ip = parseIP(s);
  if (!ip) throw new AddressError(s, "neither dotted IPv4 nor IPv6");
  return ip;
}

/** parseCIDR for text that must be a prefix: throws AddressError saying what is wrong. */
export function cidrOf(s: string): CIDR {
  const c = parseCIDR(s);
  if (!c) throw new AddressError(s, cidrError(s) ?? "not a prefix");
  return c;
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

/** A 4-byte netmask to a prefix length; throws AddressError on a non-contiguous mask. */
export function maskToPrefix(mask: Uint8Array): number {
  let n = 0;
  let seenZero = false;
  for (const byte of mask) {
    for (let bit = 7; bit >= 0; bit--) {
      if (byte & (1 << bit)) {
        if (seenZero) throw new AddressError(formatIP(mask), "non-contiguous netmask");
        n++;
      } else seenZero = true;
    }
  }
  return n;
}

/**
 * The text of an address (its bytes, as netlink and X.509 carry them, or an IP): dotted quad, or
 * RFC 5952 IPv6: lower-case hex, no leading zeros, the longest run of two or more zero groups
 * (the first, on a tie) as "::", an IPv4-mapped address as ::ffff:a.b.c.d.
 */
export function formatIP(ip: IP | Uint8Array): string {
  const b = ip instanceof Uint8Array ? ip : ip.bytes;
  if (b.byteLength === 4) return Array.from(b).join(".");
  if (b.byteLength !== 16) throw new AddressError(`<${b.byteLength} bytes>`, "not 4 or 16 bytes");
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) return `::ffff:${Array.from(b.subarray(12)).join(".")}`;
  const w = Array.from({ length: 8 }, (_, i) => (b[2 * i]! << 8) | b[2 * i + 1]!);
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = w.map((x) => x.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}

export function formatCIDR(c: CIDR): string {
  return `${formatIP(c.ip)}/${c.prefix}`;
}
