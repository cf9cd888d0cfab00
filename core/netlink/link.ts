/** RTM_*LINK bodies: struct ifinfomsg (16 bytes) + IFLA_* attributes. Pure encode/decode. */
import { ARPHRD, BOND_MODES, IFF, IFLA, IFLA_BOND, IFLA_INFO, IFLA_VLAN, OPERSTATES, type BondMode } from "./consts.ts";
import { attr, decodeAttrs, encodeAttrs, get, NetlinkDecodeError, type Attr } from "./message.ts";
import { formatIP } from "../ip/ip.ts";

export const IFINFOMSG_LEN = 16;

export interface Link {
  index: number;
  name: string;
  /** ARPHRD_* hardware type (1 ethernet, 772 loopback). */
  hwType: number;
  flags: number;
  up: boolean;
  /** IFF_LOWER_UP: the link has carrier. */
  carrier: boolean;
  mtu: number;
  mac: string;
  operState: string;
  /** ifindex of the bond or bridge this link is enslaved to. */
  master?: number;
  /** ifindex of the parent (a VLAN's lower link). */
  parent?: number;
  /** Driver kind for virtual links: vlan, bond, bridge, veth, dummy, ... */
  kind?: string;
  slaveKind?: string;
  vlanId?: number;
  bondMode?: BondMode;
  bondMiimon?: number;
}

export function encodeIfinfo(o: { family?: number; index?: number; flags?: number; change?: number }): Uint8Array {
  const b = new Uint8Array(IFINFOMSG_LEN);
  const dv = new DataView(b.buffer);
  dv.setUint8(0, o.family ?? 0);
  dv.setInt32(4, o.index ?? 0, true);
  dv.setUint32(8, o.flags ?? 0, true);
  dv.setUint32(12, o.change ?? 0, true);
  return b;
}

export function withAttrs(head: Uint8Array, attrs: Attr[]): Uint8Array {
  const tail = encodeAttrs(attrs);
  const out = new Uint8Array(head.byteLength + tail.byteLength);
  out.set(head);
  out.set(tail, head.byteLength);
  return out;
}

/**
 * A link's hardware address as iproute2 shows it: the endpoint's IP address for IP tunnels (the
 * sit0 the kernel makes when IPv6 is built in has 0.0.0.0), colon-separated hex otherwise.
 */
export function formatHwAddress(b: Uint8Array, hwType: number): string {
  const v4Tunnel = hwType === ARPHRD.TUNNEL || hwType === ARPHRD.SIT || hwType === ARPHRD.IPGRE;
  const v6Tunnel = hwType === ARPHRD.TUNNEL6 || hwType === ARPHRD.IP6GRE;
  if ((v4Tunnel && b.byteLength === 4) || (v6Tunnel && b.byteLength === 16)) return formatIP(b);
  return formatMac(b);
}

export function formatMac(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(":");
}

export function decodeLink(payload: Uint8Array): Link {
  if (payload.byteLength < IFINFOMSG_LEN) throw new NetlinkDecodeError("short ifinfomsg", 0);
  const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const flags = dv.getUint32(8, true);
  const a = decodeAttrs(payload.subarray(IFINFOMSG_LEN));
  const macBytes = a.get(IFLA.ADDRESS);
  const link: Link = {
    index: dv.getInt32(4, true),
    name: get.str(a, IFLA.IFNAME) ?? "",
    hwType: dv.getUint16(2, true),
    flags,
    up: (flags & IFF.UP) !== 0,
    carrier: (flags & IFF.LOWER_UP) !== 0,
    mtu: get.u32(a, IFLA.MTU) ?? 0,
    mac: macBytes ? formatHwAddress(macBytes, dv.getUint16(2, true)) : "",
    operState: OPERSTATES[get.u8(a, IFLA.OPERSTATE) ?? 0] ?? "unknown",
  };
  const master = get.u32(a, IFLA.MASTER);
  if (master) link.master = master;
  const parent = get.u32(a, IFLA.LINK);
  if (parent && parent !== link.index) link.parent = parent;
  const info = get.nested(a, IFLA.LINKINFO);
  if (info) {
    const kind = get.str(info, IFLA_INFO.KIND);
    if (kind) link.kind = kind;
    const slaveKind = get.str(info, IFLA_INFO.SLAVE_KIND);
    if (slaveKind) link.slaveKind = slaveKind;
    const data = get.nested(info, IFLA_INFO.DATA);
    if (data && kind === "vlan") link.vlanId = get.u16(data, IFLA_VLAN.ID);
    if (data && kind === "bond") {
      const mode = get.u8(data, IFLA_BOND.MODE);
      if (mode !== undefined) link.bondMode = BOND_MODES[mode];
      link.bondMiimon = get.u32(data, IFLA_BOND.MIIMON);
    }
  }
  return link;
}

/** Physical: an ethernet link with no virtual-link driver kind (veth counts: tests stand in with it). */
export function isPhysical(l: Link): boolean {
  return l.hwType === ARPHRD.ETHER && (l.kind === undefined || l.kind === "veth");
}

// ---- request bodies ----

export function setLinkBody(index: number, o: { up?: boolean; mtu?: number; master?: number; name?: string }): Uint8Array {
  const attrs: Attr[] = [];
  if (o.mtu !== undefined) attrs.push(attr.u32(IFLA.MTU, o.mtu));
  if (o.master !== undefined) attrs.push(attr.u32(IFLA.MASTER, o.master));
  if (o.name !== undefined) attrs.push(attr.str(IFLA.IFNAME, o.name));
  const head = o.up === undefined
    ? encodeIfinfo({ index })
    : encodeIfinfo({ index, flags: o.up ? IFF.UP : 0, change: IFF.UP });
  return withAttrs(head, attrs);
}

export type NewLinkSpec =
  | { kind: "vlan"; name: string; parent: number; vlanId: number; mtu?: number }
  | { kind: "bond"; name: string; mode: BondMode; miimon?: number; mtu?: number }
  | { kind: "bridge"; name: string; mtu?: number }
  | { kind: "dummy"; name: string; mtu?: number };

export function newLinkBody(s: NewLinkSpec): Uint8Array {
  const attrs: Attr[] = [attr.str(IFLA.IFNAME, s.name)];
  if (s.mtu !== undefined) attrs.push(attr.u32(IFLA.MTU, s.mtu));
  const info: Attr[] = [attr.str(IFLA_INFO.KIND, s.kind)];
  if (s.kind === "vlan") {
    attrs.push(attr.u32(IFLA.LINK, s.parent));
    info.push(attr.nest(IFLA_INFO.DATA, [attr.u16(IFLA_VLAN.ID, s.vlanId)]));
  } else if (s.kind === "bond") {
    const data: Attr[] = [attr.u8(IFLA_BOND.MODE, BOND_MODES.indexOf(s.mode))];
    if (s.miimon !== undefined) data.push(attr.u32(IFLA_BOND.MIIMON, s.miimon));
    info.push(attr.nest(IFLA_INFO.DATA, data));
  }
  attrs.push(attr.nest(IFLA.LINKINFO, info));
  return withAttrs(encodeIfinfo({}), attrs);
}
