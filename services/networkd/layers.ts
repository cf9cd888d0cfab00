/**
 * Merging the layers into one NetworkSpec: defaults < kernel cmdline `ip=` < DHCP leases <
 * machine config. Pure: given the kernel's links, the parsed inputs and the current leases.
 */
import type { Link } from "../../core/netlink/link.ts";
import { isPhysical } from "../../core/netlink/link.ts";
import type { LeaseInfo } from "../../core/dhcp/packet.ts";
import type { CmdlineLinks, CmdlineNetwork } from "./cmdline.ts";
import type { NetworkConfig, RouteConfig } from "./config.ts";
import { LAYERS, type AddressSpec, type LinkSpec, type NetworkSpec, type RouteSpec } from "./types.ts";
import { cidrOf, formatCIDR, formatIP, ipOf, networkOf } from "../../core/ip/ip.ts";
import { DEFAULT_ROUTE } from "../../core/config/network.ts";
import { pickHostname } from "../../core/netresources/hostname.ts";

export const DEFAULT_RESOLVERS = ["1.1.1.1", "8.8.8.8"];
export const DEFAULT_TIME_SERVERS = ["pool.ntp.org"];
/** Routes without a metric get this one (as Talos does), DHCP routes too. */
export const DEFAULT_METRIC = 1024;
const MAIN_TABLE = 254;

export interface Inputs {
  links: Link[];
  cmdline?: CmdlineNetwork;
  /** The cmdline's bond= and vlan=. */
  cmdlineLinks?: CmdlineLinks;
  config?: NetworkConfig;
  /** Current DHCP leases by link name (with the seconds left on each). */
  leases: Map<string, LeaseInfo & { remaining: number }>;
}

/** A stable default hostname from the first physical link's MAC: bunker-xxxxxx. */
export function defaultHostname(links: Link[]): string {
  const first = links.filter(isPhysical).sort((a, b) => a.index - b.index)[0];
  const tail = first?.mac.split(":").slice(3).join("") ?? "000000";
  return `bunker-${tail}`;
}

function routeSpecs(link: string, routes: RouteConfig[], layer: RouteSpec["layer"]): RouteSpec[] {
  return routes.map((r) => {
    const s: RouteSpec = { link, dst: r.network, metric: r.metric, table: r.table, layer };
    if (r.gateway) s.gateway = r.gateway;
    return s;
  });
}

export function mergeLayers(inp: Inputs): NetworkSpec {
  const links = new Map<string, LinkSpec>();
  const addresses: AddressSpec[] = [];
  const routes: RouteSpec[] = [];
  const cfg = inp.config;
  const cmd = inp.cmdline && !inp.cmdline.off ? inp.cmdline : undefined;
  const ignored = cfg?.interfaces.filter((i) => i.ignore).map((i) => i.interface) ?? [];
  const configSaysSomething = (cfg?.interfaces.filter((i) => !i.ignore).length ?? 0) > 0;
  const physical = inp.links.filter(isPhysical);

  // Defaults: DHCP on every physical link with carrier, when nothing else configures links.
  if ((!configSaysSomething && !cmd) || (cmd?.dhcpAll && !configSaysSomething)) {
    for (const l of physical) {
      if (ignored.includes(l.name)) continue;
      links.set(l.name, { name: l.name, layer: cmd?.dhcpAll ? "cmdline" : "default", kind: "physical", dhcp: l.carrier });
    }
  }

  // Cmdline bond= and vlan=: the links a network boot needs before any config. With no ip=, or
  // ip=dhcp, they take DHCP; an ip= naming one device configures that one only (as in dracut);
  // ip=off, none. Members hold no addresses of their own.
  const cmdlineLinkDhcp = !inp.cmdline || inp.cmdline.dhcpAll === true;
  const bondMembers = new Set((inp.cmdlineLinks?.bonds ?? []).flatMap((b) => b.members));
  for (const b of inp.cmdlineLinks?.bonds ?? []) {
    for (const m of b.members) links.delete(m);
    const spec: LinkSpec = { name: b.name, layer: "cmdline", kind: "bond", dhcp: cmdlineLinkDhcp, bond: { mode: b.mode, members: b.members } };
    if (b.miimon !== undefined) spec.bond!.miimon = b.miimon;
    if (b.mtu !== undefined) spec.mtu = b.mtu;
    links.set(b.name, spec);
  }
  for (const v of inp.cmdlineLinks?.vlans ?? []) {
    links.set(v.name, { name: v.name, layer: "cmdline", kind: "vlan", dhcp: cmdlineLinkDhcp, vlan: { parent: v.parent, id: v.id } });
  }

  // Cmdline ip=: one device (or the first physical link) statically or with DHCP.
  if (cmd && !cmd.dhcpAll) {
    const dev = cmd.device ?? physical.filter((l) => !bondMembers.has(l.name)).sort((a, b) => a.index - b.index)[0]?.name;
    if (dev) {
      const made = links.get(dev);
      const base: LinkSpec = made && made.kind !== "physical" ? made : { name: dev, layer: "cmdline", kind: "physical", dhcp: false };
      links.set(dev, { ...base, layer: "cmdline", dhcp: cmd.dhcp === true && !cmd.address });
      if (cmd.address) addresses.push({ link: dev, address: cmd.address, layer: "cmdline" });
      if (cmd.gateway) routes.push({ link: dev, dst: DEFAULT_ROUTE[cmd.gateway.family], gateway: cmd.gateway, metric: DEFAULT_METRIC, table: MAIN_TABLE, layer: "cmdline" });
    }
  }

  // Machine config: replaces whatever lower layers said about the same link.
  for (const ic of cfg?.interfaces ?? []) {
    if (ic.ignore) {
      links.delete(ic.interface);
      continue;
    }
    for (const layerSpecs of [addresses, routes]) {
      for (let i = layerSpecs.length - 1; i >= 0; i--) if (layerSpecs[i]!.link === ic.interface) layerSpecs.splice(i, 1);
    }
    const spec: LinkSpec = { name: ic.interface, layer: "config", kind: ic.bond ? "bond" : "physical", dhcp: ic.dhcp };
    if (ic.mtu !== undefined) spec.mtu = ic.mtu;
    if (ic.bond) {
      spec.bond = { mode: ic.bond.mode, members: ic.bond.interfaces };
      if (ic.bond.miimon !== undefined) spec.bond.miimon = ic.bond.miimon;
      for (const m of ic.bond.interfaces) links.delete(m);
    }
    links.set(ic.interface, spec);
    for (const a of ic.addresses) addresses.push({ link: ic.interface, address: a, layer: "config" });
    routes.push(...routeSpecs(ic.interface, ic.routes, "config"));
    for (const v of ic.vlans) {
      const name = `${ic.interface}.${v.vlanId}`;
      const vs: LinkSpec = { name, layer: "config", kind: "vlan", dhcp: v.dhcp, vlan: { parent: ic.interface, id: v.vlanId } };
      if (v.mtu !== undefined) vs.mtu = v.mtu;
      links.set(name, vs);
      for (const a of v.addresses) addresses.push({ link: name, address: a, layer: "config" });
      routes.push(...routeSpecs(name, v.routes, "config"));
    }
  }

  // DHCP leases on links that still want DHCP. The lease's text was printed by core/dhcp from
  // the packet's bytes; it is read back here, into the values the specs hold.
  const dhcpDns: string[] = [], dhcpNtp: string[] = [], dhcpSearch: string[] = [];
  let dhcpHostname: string | undefined, dhcpDomain: string | undefined;
  for (const [name, lease] of inp.leases) {
    const spec = links.get(name);
    if (!spec?.dhcp) continue;
    addresses.push({ link: name, address: { ip: ipOf(lease.address), prefix: lease.prefixLen }, layer: "dhcp", validLifetime: Math.max(1, Math.floor(lease.remaining)) });
    // RFC 3442: when classless routes are given, the router option is ignored.
    if (lease.classlessRoutes.length > 0) {
      for (const r of lease.classlessRoutes) {
        const rs: RouteSpec = { link: name, dst: cidrOf(r.dst), metric: DEFAULT_METRIC, table: MAIN_TABLE, layer: "dhcp" };
        if (r.gateway !== "0.0.0.0") rs.gateway = ipOf(r.gateway);
        routes.push(rs);
      }
    } else if (lease.routers[0]) {
      routes.push({ link: name, dst: DEFAULT_ROUTE[4], gateway: ipOf(lease.routers[0]), metric: DEFAULT_METRIC, table: MAIN_TABLE, layer: "dhcp" });
    }
    if (spec.mtu === undefined && lease.mtu !== undefined) spec.mtu = lease.mtu;
    dhcpDns.push(...lease.dns);
    dhcpNtp.push(...lease.ntp);
    if (lease.domain) dhcpSearch.push(lease.domain);
    dhcpHostname ??= lease.hostname;
    dhcpDomain ??= lease.domain;
  }

  const pick = <T>(...c: [T[] | undefined, NetworkSpec["resolvers"]["layer"]][]): [T[], NetworkSpec["resolvers"]["layer"]] => {
    for (const [v, layer] of c) if (v && v.length > 0) return [dedupe(v), layer];
    return [[], "default"];
  };
  // Resolvers and host entries go into files: text, as ip(8) prints an address.
  const [servers, rLayer] = pick<string>([cfg?.nameservers.map(formatIP), "config"], [dhcpDns, "dhcp"], [cmd?.dns, "cmdline"], [DEFAULT_RESOLVERS, "default"]);
  const [search] = pick<string>([cfg?.searchDomains, "config"], [dhcpSearch, "dhcp"]);
  const [ntp, tLayer] = pick<string>([cfg?.time.servers, "config"], [dhcpNtp, "dhcp"], [cmd?.ntp, "cmdline"], [DEFAULT_TIME_SERVERS, "default"]);

  const { source, ...name } = pickHostname({
    config: cfg?.hostname, dhcp: dhcpHostname ? { name: dhcpHostname, domain: dhcpDomain } : undefined, cmdline: cmd?.hostname,
    fallback: defaultHostname(inp.links),
  });
  const hostname: NetworkSpec["hostname"] = { ...name, layer: source };

  return {
    links: [...links.values()],
    addresses,
    routes: oneRoutePerKernelKey(routes),
    hostname,
    resolvers: { servers, search, layer: rLayer },
    timeServers: { servers: ntp, layer: tLayer },
    extraHosts: cfg?.extraHostEntries.map((e) => ({ ip: formatIP(e.ip), aliases: e.aliases })) ?? [],
    ignored,
    timeDisabled: cfg?.time.disabled ?? false,
  };
}

/**
 * The kernel keeps one route per destination, table and metric: adding a second (say a default
 * route from DHCP on one link and a static one on another, both at 1024) replaces the first, and
 * the next pass would put it back, for ever. So, as Talos merges by that key: across layers the
 * higher one wins; within a layer, each later route takes the next free metric, so both stay
 * (the first preferred, the other a fallback).
 */
export function oneRoutePerKernelKey(routes: RouteSpec[]): RouteSpec[] {
  const rank = (r: RouteSpec) => LAYERS.indexOf(r.layer);
  const key = (r: RouteSpec, metric = r.metric) => {
    return `${formatCIDR(networkOf(r.dst))} ${r.table} ${metric}`;
  };
  const best = new Map<string, number>();
  for (const r of routes) best.set(key(r), Math.max(best.get(key(r)) ?? -1, rank(r)));
  const taken = new Set<string>();
  const same = new Set<string>();
  const out: RouteSpec[] = [];
  for (const r of routes) {
    if (rank(r) < best.get(key(r))!) continue;
    const whole = `${key(r)} ${r.link} ${r.gateway ? formatIP(r.gateway) : "-"}`;
    if (same.has(whole)) continue; // the very same route twice
    same.add(whole);
    let metric = r.metric;
    while (taken.has(key(r, metric)) || (metric !== r.metric && best.has(key(r, metric)))) metric++;
    taken.add(key(r, metric));
    out.push(metric === r.metric ? r : { ...r, metric });
  }
  return out;
}

function dedupe<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}
