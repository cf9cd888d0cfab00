/**
 * DHCPv4 packets (RFC 2131/2132) in pure TypeScript: the BOOTP frame, the magic cookie and the
 * options Bunker reads or writes. Decoding never throws anything but DhcpDecodeError, so a caller
 * can count a malformed packet and drop it.
 */
import { formatIP, ipOf, maskToPrefix } from "../ip/ip.ts";

export const MSG = { DISCOVER: 1, OFFER: 2, REQUEST: 3, DECLINE: 4, ACK: 5, NAK: 6, RELEASE: 7, INFORM: 8 } as const;
export const MSG_NAMES: Record<number, string> = { 1: "DISCOVER", 2: "OFFER", 3: "REQUEST", 4: "DECLINE", 5: "ACK", 6: "NAK", 7: "RELEASE", 8: "INFORM" };

export const OPT = {
  PAD: 0, SUBNET_MASK: 1, ROUTER: 3, DNS: 6, HOSTNAME: 12, DOMAIN: 15, MTU: 26, BROADCAST: 28, NTP: 42,
  REQUESTED_IP: 50, LEASE_TIME: 51, OVERLOAD: 52, MSG_TYPE: 53, SERVER_ID: 54, PARAM_LIST: 55,
  MESSAGE: 56, MAX_SIZE: 57, T1: 58, T2: 59, CLIENT_ID: 61, SEARCH: 119, CLASSLESS_ROUTES: 121, END: 255,
} as const;

const COOKIE = [99, 130, 83, 99];
const FIXED_LEN = 236;
export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;
/** Asks the server to broadcast its answer: we cannot receive unicast before we hold the address. */
export const FLAG_BROADCAST = 0x8000;

export class DhcpDecodeError extends Error {
  constructor(why: string) {
    super(`malformed DHCP packet: ${why}`);
    this.name = "DhcpDecodeError";
  }
}

export interface DhcpPacket {
  op: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** Client hardware address (first hlen bytes of chaddr). */
  chaddr: Uint8Array;
  /** Raw options by code (the last instance wins; split instances are concatenated per RFC 3396). */
  options: Map<number, Uint8Array>;
}

export function encodePacket(p: DhcpPacket): Uint8Array {
  let optLen = 4 + 1; // cookie + END
  for (const v of p.options.values()) optLen += 2 * Math.ceil(Math.max(v.byteLength, 1) / 255) + v.byteLength;
  // Pad to the BOOTP minimum of 300 bytes: some servers drop shorter packets.
  const out = new Uint8Array(Math.max(300, FIXED_LEN + optLen));
  const dv = new DataView(out.buffer);
  out[0] = p.op;
  out[1] = 1; // ethernet
  out[2] = p.chaddr.byteLength;
  dv.setUint32(4, p.xid >>> 0);
  dv.setUint16(8, p.secs);
  dv.setUint16(10, p.flags);
  out.set(ipOf(p.ciaddr).bytes, 12);
  out.set(ipOf(p.yiaddr).bytes, 16);
  out.set(ipOf(p.siaddr).bytes, 20);
  out.set(ipOf(p.giaddr).bytes, 24);
  out.set(p.chaddr.subarray(0, 16), 28);
  out.set(COOKIE, FIXED_LEN);
  let off = FIXED_LEN + 4;
  for (const [code, v] of p.options) {
    // Values longer than 255 bytes are split into consecutive instances (RFC 3396).
    let i = 0;
    do {
      const chunk = v.subarray(i, i + 255);
      out[off++] = code;
      out[off++] = chunk.byteLength;
      out.set(chunk, off);
      off += chunk.byteLength;
      i += 255;
    } while (i < v.byteLength);
  }
  out[off] = OPT.END;
  return out;
}

function parseOptions(buf: Uint8Array, into: Map<number, Uint8Array>, where: string): void {
  let i = 0;
  while (i < buf.byteLength) {
    const code = buf[i++]!;
    if (code === OPT.PAD) continue;
    if (code === OPT.END) return;
    if (i >= buf.byteLength) throw new DhcpDecodeError(`option ${code} in ${where} has no length byte`);
    const len = buf[i++]!;
    if (i + len > buf.byteLength) throw new DhcpDecodeError(`option ${code} in ${where} runs past the end (${len} bytes)`);
    const v = buf.subarray(i, i + len);
    const prev = into.get(code);
    into.set(code, prev ? Uint8Array.from([...prev, ...v]) : v);
    i += len;
  }
}

export function decodePacket(buf: Uint8Array): DhcpPacket {
  if (buf.byteLength < FIXED_LEN + 4) throw new DhcpDecodeError(`${buf.byteLength} bytes is shorter than a BOOTP frame`);
  for (let i = 0; i < 4; i++) if (buf[FIXED_LEN + i] !== COOKIE[i]) throw new DhcpDecodeError("no DHCP magic cookie");
  const hlen = buf[2]!;
  if (hlen > 16) throw new DhcpDecodeError(`hardware address length ${hlen}`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const options = new Map<number, Uint8Array>();
  parseOptions(buf.subarray(FIXED_LEN + 4), options, "options");
  // Option 52 lets a server spill options into the file (1) and sname (2) fields.
  const overload = options.get(OPT.OVERLOAD)?.[0] ?? 0;
  if (overload & 1) parseOptions(buf.subarray(108, 236), options, "file field");
  if (overload & 2) parseOptions(buf.subarray(44, 108), options, "sname field");
  return {
    op: buf[0]!,
    xid: dv.getUint32(4),
    secs: dv.getUint16(8),
    flags: dv.getUint16(10),
    ciaddr: formatIP(buf.subarray(12, 16)),
    yiaddr: formatIP(buf.subarray(16, 20)),
    siaddr: formatIP(buf.subarray(20, 24)),
    giaddr: formatIP(buf.subarray(24, 28)),
    chaddr: new Uint8Array(buf.subarray(28, 28 + hlen)),
    options,
  };
}

// ---- typed option views ----

export interface ClasslessRoute {
  /** Destination as CIDR. */
  dst: string;
  gateway: string;
}

/** Everything a lease carries that networkd uses. */
export interface LeaseInfo {
  address: string;
  prefixLen: number;
  serverId: string;
  leaseTime: number;
  t1: number;
  t2: number;
  routers: string[];
  dns: string[];
  /** Option 42. */
  ntp: string[];
  hostname?: string;
  domain?: string;
  mtu?: number;
  classlessRoutes: ClasslessRoute[];
}

function ipList(v: Uint8Array | undefined, code: number): string[] {
  if (!v) return [];
  if (v.byteLength % 4 !== 0 || v.byteLength === 0) throw new DhcpDecodeError(`option ${code} length ${v.byteLength} is not a list of IPv4 addresses`);
  const out: string[] = [];
  for (let i = 0; i < v.byteLength; i += 4) out.push(formatIP(v.subarray(i, i + 4)));
  return out;
}

function u32(v: Uint8Array | undefined, code: number): number | undefined {
  if (!v) return undefined;
  if (v.byteLength !== 4) throw new DhcpDecodeError(`option ${code} length ${v.byteLength}, expected 4`);
  return new DataView(v.buffer, v.byteOffset).getUint32(0);
}

function text(v: Uint8Array | undefined): string | undefined {
  if (!v) return undefined;
  const nul = v.indexOf(0);
  const s = new TextDecoder("utf-8", { fatal: false }).decode(nul >= 0 ? v.subarray(0, nul) : v);
  return s || undefined;
}

/** Option 121 (RFC 3442): width byte, significant destination octets, 4-byte router; repeated. */
export function decodeClasslessRoutes(v: Uint8Array): ClasslessRoute[] {
  const out: ClasslessRoute[] = [];
  let i = 0;
  while (i < v.byteLength) {
    const width = v[i++]!;
    if (width > 32) throw new DhcpDecodeError(`classless route prefix /${width}`);
    const sig = Math.ceil(width / 8);
    if (i + sig + 4 > v.byteLength) throw new DhcpDecodeError("classless route runs past the option");
    const dst = new Uint8Array(4);
    dst.set(v.subarray(i, i + sig));
    i += sig;
    out.push({ dst: `${formatIP(dst)}/${width}`, gateway: formatIP(v.subarray(i, i + 4)) });
    i += 4;
  }
  return out;
}

export function encodeClasslessRoutes(routes: ClasslessRoute[]): Uint8Array {
  const bytes: number[] = [];
  for (const r of routes) {
    const [ip, w] = r.dst.split("/");
    const width = Number(w);
    bytes.push(width, ...ipOf(ip!).bytes.subarray(0, Math.ceil(width / 8)), ...ipOf(r.gateway).bytes);
  }
  return Uint8Array.from(bytes);
}

export function messageType(p: DhcpPacket): number | undefined {
  const v = p.options.get(OPT.MSG_TYPE);
  return v && v.byteLength === 1 ? v[0] : undefined;
}

/**
 * The lease an OFFER or ACK describes. Missing T1/T2 default to 1/2 and 7/8 of the lease
 * (RFC 2131 4.4.5); a missing mask defaults to the classful one.
 */
export function leaseOf(p: DhcpPacket): LeaseInfo {
  const o = p.options;
  const serverId = ipList(o.get(OPT.SERVER_ID), OPT.SERVER_ID)[0];
  if (!serverId) throw new DhcpDecodeError("no server identifier (option 54)");
  const leaseTime = u32(o.get(OPT.LEASE_TIME), OPT.LEASE_TIME);
  if (leaseTime === undefined) throw new DhcpDecodeError("no lease time (option 51)");
  const mask = o.get(OPT.SUBNET_MASK);
  let prefixLen: number;
  if (mask) {
    if (mask.byteLength !== 4) throw new DhcpDecodeError(`subnet mask length ${mask.byteLength}`);
    try {
      prefixLen = maskToPrefix(mask);
    } catch (e) {
      throw new DhcpDecodeError((e as Error).message);
    }
  } else {
    const first = ipOf(p.yiaddr).bytes[0]!;
    prefixLen = first < 128 ? 8 : first < 192 ? 16 : 24;
  }
  let t1 = u32(o.get(OPT.T1), OPT.T1) ?? Math.floor(leaseTime / 2);
  let t2 = u32(o.get(OPT.T2), OPT.T2) ?? Math.floor((leaseTime * 7) / 8);
  if (t2 > leaseTime) t2 = Math.floor((leaseTime * 7) / 8);
  if (t1 > t2) t1 = Math.floor(t2 / 2);
  const mtuRaw = o.get(OPT.MTU);
  let mtu: number | undefined;
  if (mtuRaw) {
    if (mtuRaw.byteLength !== 2) throw new DhcpDecodeError(`MTU option length ${mtuRaw.byteLength}`);
    mtu = (mtuRaw[0]! << 8) | mtuRaw[1]!;
  }
  const cr = o.get(OPT.CLASSLESS_ROUTES);
  const lease: LeaseInfo = {
    address: p.yiaddr,
    prefixLen,
    serverId,
    leaseTime,
    t1,
    t2,
    routers: ipList(o.get(OPT.ROUTER), OPT.ROUTER),
    dns: ipList(o.get(OPT.DNS), OPT.DNS),
    ntp: ipList(o.get(OPT.NTP), OPT.NTP),
    classlessRoutes: cr ? decodeClasslessRoutes(cr) : [],
  };
  const hostname = text(o.get(OPT.HOSTNAME));
  if (hostname) lease.hostname = hostname;
  const domain = text(o.get(OPT.DOMAIN));
  if (domain) lease.domain = domain;
  // MTUs under 68 are not valid for IPv4 (RFC 791); ignore rather than break the link.
  if (mtu !== undefined && mtu >= 68) lease.mtu = mtu;
  return lease;
}

/** Options a client asks for in its parameter request list. */
export const REQUESTED_PARAMS = Uint8Array.of(OPT.SUBNET_MASK, OPT.ROUTER, OPT.DNS, OPT.HOSTNAME, OPT.DOMAIN, OPT.MTU, OPT.NTP, OPT.LEASE_TIME, OPT.T1, OPT.T2, OPT.CLASSLESS_ROUTES);
