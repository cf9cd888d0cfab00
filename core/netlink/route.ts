/** RTM_*ROUTE bodies: struct rtmsg (12 bytes) + RTA_* attributes. Pure encode/decode. */
import { AF, RTA, RTAX_MTU, RTN, RTPROT, RT_SCOPE, RT_TABLE } from "./consts.ts";
import { attr, decodeAttrs, get, NetlinkDecodeError, type Attr } from "./message.ts";
import { withAttrs } from "./link.ts";
import { formatCIDR, formatIP, type CIDR, type Family, type IP } from "../ip/ip.ts";

export const RTMSG_LEN = 12;

export interface Route {
  family: Family;
  /** Destination as CIDR; "0.0.0.0/0" or "::/0" for a default route. */
  dst: string;
  gateway?: string;
  /** Output link index. */
  oif?: number;
  /** The metric. */
  priority?: number;
  prefsrc?: string;
  table: number;
  protocol: number;
  scope: number;
  type: number;
  mtu?: number;
}

/** What an add or delete names, as core/ip values (their bytes go on the wire). */
export interface RouteSpec {
  dst: CIDR;
  gateway?: IP;
  oif?: number;
  priority?: number;
  prefsrc?: IP;
  /** Default: main (254). */
  table?: number;
  /** Default: static (4); DHCP routes use 16 so they are told apart. */
  protocol?: number;
  mtu?: number;
}

export function decodeRoute(payload: Uint8Array): Route {
  if (payload.byteLength < RTMSG_LEN) throw new NetlinkDecodeError("short rtmsg", 0);
  const fam = payload[0]!;
  const family: Family = fam === AF.INET6 ? 6 : 4;
  const dstLen = payload[1]!;
  const a = decodeAttrs(payload.subarray(RTMSG_LEN));
  const dst = a.get(RTA.DST);
  const zero = new Uint8Array(family === 6 ? 16 : 4);
  const r: Route = {
    family,
    dst: `${formatIP(dst ?? zero)}/${dstLen}`,
    table: get.u32(a, RTA.TABLE) ?? payload[4]!,
    protocol: payload[5]!,
    scope: payload[6]!,
    type: payload[7]!,
  };
  const gw = a.get(RTA.GATEWAY);
  if (gw) r.gateway = formatIP(gw);
  const oif = get.u32(a, RTA.OIF);
  if (oif !== undefined) r.oif = oif;
  const prio = get.u32(a, RTA.PRIORITY);
  if (prio !== undefined) r.priority = prio;
  const src = a.get(RTA.PREFSRC);
  if (src) r.prefsrc = formatIP(src);
  const metrics = get.nested(a, RTA.METRICS);
  const mtu = metrics ? get.u32(metrics, RTAX_MTU) : undefined;
  if (mtu !== undefined) r.mtu = mtu;
  return r;
}

/** The body for RTM_NEWROUTE/DELROUTE. A route with no gateway is on-link (scope link). */
export function routeBody(s: RouteSpec): Uint8Array {
  const d = { ...s.dst.ip, prefix: s.dst.prefix };
  const table = s.table ?? RT_TABLE.MAIN;
  const head = new Uint8Array(RTMSG_LEN);
  head[0] = d.family === 6 ? AF.INET6 : AF.INET;
  head[1] = d.prefix;
  head[4] = table < 256 ? table : RT_TABLE.UNSPEC;
  head[5] = s.protocol ?? RTPROT.STATIC;
  head[6] = s.gateway ? RT_SCOPE.UNIVERSE : RT_SCOPE.LINK;
  head[7] = RTN.UNICAST;
  const attrs: Attr[] = [attr.u32(RTA.TABLE, table)];
  if (d.prefix > 0) attrs.push(attr.bytes(RTA.DST, d.bytes));
  if (s.gateway) {
    const gw = s.gateway;
    if (gw.family !== d.family) throw new Error(`route ${formatCIDR(s.dst)}: gateway ${formatIP(gw)} is not the same IP family`);
    attrs.push(attr.bytes(RTA.GATEWAY, gw.bytes));
  }
  if (s.oif !== undefined) attrs.push(attr.u32(RTA.OIF, s.oif));
  if (s.priority !== undefined) attrs.push(attr.u32(RTA.PRIORITY, s.priority));
  if (s.prefsrc) attrs.push(attr.bytes(RTA.PREFSRC, s.prefsrc.bytes));
  if (s.mtu !== undefined) attrs.push(attr.nest(RTA.METRICS, [attr.u32(RTAX_MTU, s.mtu)]));
  return withAttrs(head, attrs);
}

export function routeDumpBody(family: 0 | Family): Uint8Array {
  const head = new Uint8Array(RTMSG_LEN);
  head[0] = family === 0 ? AF.UNSPEC : family === 6 ? AF.INET6 : AF.INET;
  return head;
}

/** Default route of either family. */
export const isDefault = (r: Route): boolean => r.dst === "0.0.0.0/0" || r.dst === "::/0";
