/** RTM_*ADDR bodies: struct ifaddrmsg (8 bytes) + IFA_* attributes. Pure encode/decode. */
import { AF, IFA, IFA_F, RT_SCOPE } from "./consts.ts";
import { attr, decodeAttrs, get, NetlinkDecodeError, type Attr } from "./message.ts";
import { withAttrs } from "./link.ts";
import { formatIP, type Family, type IP } from "../ip/ip.ts";

export const IFADDRMSG_LEN = 8;

export interface Address {
  index: number;
  family: Family;
  address: string;
  prefixLen: number;
  scope: number;
  flags: number;
  label?: string;
  /** Seconds; undefined means forever. */
  validLifetime?: number;
  preferredLifetime?: number;
}

/** What an add or delete names: the address as core/ip holds it (its bytes go on the wire). */
export interface AddressSpec {
  index: number;
  address: IP;
  prefixLen: number;
  /** Seconds the kernel keeps the address (a DHCP lease); omitted: forever. */
  validLifetime?: number;
  preferredLifetime?: number;
}

const FOREVER = 0xffffffff;

export function decodeAddress(payload: Uint8Array): Address {
  if (payload.byteLength < IFADDRMSG_LEN) throw new NetlinkDecodeError("short ifaddrmsg", 0);
  const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const fam = dv.getUint8(0);
  const a = decodeAttrs(payload.subarray(IFADDRMSG_LEN));
  // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on point-to-point links.
  const raw = a.get(IFA.LOCAL) ?? a.get(IFA.ADDRESS);
  if (!raw || (raw.byteLength !== 4 && raw.byteLength !== 16)) throw new NetlinkDecodeError("address without IFA_ADDRESS", IFADDRMSG_LEN);
  const out: Address = {
    index: dv.getUint32(4, true),
    family: fam === AF.INET6 ? 6 : 4,
    address: formatIP(raw),
    prefixLen: dv.getUint8(1),
    scope: dv.getUint8(3),
    flags: get.u32(a, IFA.FLAGS) ?? dv.getUint8(2),
  };
  const label = get.str(a, IFA.LABEL);
  if (label) out.label = label;
  const ci = a.get(IFA.CACHEINFO);
  if (ci && ci.byteLength >= 8) {
    const cv = new DataView(ci.buffer, ci.byteOffset);
    const pref = cv.getUint32(0, true), valid = cv.getUint32(4, true);
    if (valid !== FOREVER) out.validLifetime = valid;
    if (pref !== FOREVER) out.preferredLifetime = pref;
  }
  return out;
}

export function addressBody(s: AddressSpec): Uint8Array {
  const { family, bytes } = s.address;
  const head = new Uint8Array(IFADDRMSG_LEN);
  const dv = new DataView(head.buffer);
  dv.setUint8(0, family === 6 ? AF.INET6 : AF.INET);
  dv.setUint8(1, s.prefixLen);
  dv.setUint8(3, RT_SCOPE.UNIVERSE);
  dv.setUint32(4, s.index, true);
  const attrs: Attr[] = [attr.bytes(IFA.LOCAL, bytes), attr.bytes(IFA.ADDRESS, bytes)];
  // IPv6: no duplicate address detection, so the address is usable at once (a configured address).
  if (family === 6) attrs.push(attr.u32(IFA.FLAGS, IFA_F.NODAD));
  if (family === 4 && s.prefixLen < 31) {
    const bc = new Uint8Array(bytes);
    for (let i = 0; i < 4; i++) {
      const bits = Math.max(0, Math.min(8, s.prefixLen - 8 * i));
      bc[i] = bc[i]! | (0xff >> bits);
    }
    attrs.push(attr.bytes(IFA.BROADCAST, bc));
  }
  if (s.validLifetime !== undefined) {
    const ci = new Uint8Array(16);
    const cv = new DataView(ci.buffer);
    cv.setUint32(0, s.preferredLifetime ?? s.validLifetime, true);
    cv.setUint32(4, s.validLifetime, true);
    attrs.push(attr.bytes(IFA.CACHEINFO, ci));
  }
  return withAttrs(head, attrs);
}

/** A dump request body for one family (0 = both). */
export function addressDumpBody(family: 0 | Family): Uint8Array {
  const head = new Uint8Array(IFADDRMSG_LEN);
  head[0] = family === 0 ? AF.UNSPEC : family === 6 ? AF.INET6 : AF.INET;
  return head;
}
