import { formatIPv6 } from "../ipformat/ipv6.ts";
/** IPv4/IPv6 text <-> bytes, and CIDR prefixes, as netlink carries them. */

export type Family = 4 | 6;

export class AddressError extends Error {
  constructor(text: string, why: string) {
    super(`invalid IP address "${text}": ${why}`);
    this.name = "AddressError";
  }
}

function parse4(s: string): Uint8Array | null {
  const parts = s.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255 || (p.length > 1 && p[0] === "0")) return null;
    out[i] = Number(p);
  }
  return out;
}

function parse6(s: string): Uint8Array | null {
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const words = (h: string): number[] | null => {
    if (h === "") return [];
    const out: number[] = [];
    const parts = h.split(":");
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (i === parts.length - 1 && p.includes(".")) {
        const v4 = parse4(p);
        if (!v4) return null;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return null;
        out.push(parseInt(p, 16));
      }
    }
    return out;
  };
  const head = words(halves[0]!);
  const tail = halves.length === 2 ? words(halves[1]!) : [];
  if (!head || !tail) return null;
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return null;
  const all = [...head, ...new Array<number>(fill).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((w, i) => { out[2 * i] = w >> 8; out[2 * i + 1] = w & 0xff; });
  return out;
}

export function parseIp(s: string): { family: Family; bytes: Uint8Array } {
  const v4 = parse4(s);
  if (v4) return { family: 4, bytes: v4 };
  const v6 = s.includes(":") ? parse6(s) : null;
  if (v6) return { family: 6, bytes: v6 };
  throw new AddressError(s, "neither dotted IPv4 nor IPv6");
}

export function isIp(s: string): boolean {
  return parse4(s) !== null || (s.includes(":") && parse6(s) !== null);
}

/** Text form: dotted quad, or RFC 5952 IPv6 (lower case, longest zero run as ::), as `ip` prints. */
export function formatIp(b: Uint8Array): string {
  if (b.byteLength === 4) return Array.from(b).join(".");
  if (b.byteLength !== 16) throw new AddressError(`<${b.byteLength} bytes>`, "not 4 or 16 bytes");
  // IPv4-mapped, as ip prints it.
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) return `::ffff:${Array.from(b.subarray(12)).join(".")}`;
  return formatIPv6(b);
}

export interface Cidr {
  family: Family;
  bytes: Uint8Array;
  prefix: number;
}

export function parseCidr(s: string): Cidr {
  const slash = s.indexOf("/");
  if (slash < 0) throw new AddressError(s, "missing /prefix");
  const { family, bytes } = parseIp(s.slice(0, slash));
  const p = s.slice(slash + 1);
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(p) || Number(p) > max) throw new AddressError(s, `prefix must be 0..${max}`);
  return { family, bytes, prefix: Number(p) };
}

export const formatCidr = (c: { bytes: Uint8Array; prefix: number }): string => `${formatIp(c.bytes)}/${c.prefix}`;

/** The network address of a prefix (host bits cleared). */
export function networkOf(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < out.length; i++) {
    const bits = Math.max(0, Math.min(8, prefix - 8 * i));
    out[i] = out[i]! & ((0xff << (8 - bits)) & 0xff);
  }
  return out;
}

/** A 4-byte netmask to a prefix length; throws on a non-contiguous mask. */
export function maskToPrefix(mask: Uint8Array): number {
  let n = 0;
  let seenZero = false;
  for (const byte of mask) {
    for (let bit = 7; bit >= 0; bit--) {
      if (byte & (1 << bit)) {
        if (seenZero) throw new AddressError(formatIp(mask), "non-contiguous netmask");
        n++;
      } else seenZero = true;
    }
  }
  return n;
}

export function formatMac(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(":");
}
