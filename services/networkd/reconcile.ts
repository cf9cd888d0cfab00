/**
 * Applying a NetworkSpec to the kernel: create what is missing, change what differs, remove what
 * networkd owns but the spec no longer holds. One pass; every failure is collected (with what
 * it was about) and the pass goes on, so one bad route never blocks the rest. The next pass
 * retries: that is also how drift (an address deleted by hand) is repaired.
 *
 * Ownership: networkd removes only what it could have made: IPv4 and permanent (manually added)
 * IPv6 addresses of scope global on links it manages, static/DHCP-protocol routes through those
 * links, and virtual links it created itself (remembered in `ownedLinks`).
 */
import type { Rtnl } from "../../core/netlink/rtnl.ts";
import type { Link } from "../../core/netlink/link.ts";
import type { Address } from "../../core/netlink/addr.ts";
import type { Route } from "../../core/netlink/route.ts";
import { IFA_F, RTPROT, RT_SCOPE } from "../../core/netlink/consts.ts";
import { cidrOf, formatCIDR, formatIP, ipOf, networkOf, type CIDR } from "../../core/ip/ip.ts";
import type { AddressSpec, NetworkSpec, RouteSpec } from "./types.ts";

export interface ReconcileResult {
  changes: string[];
  errors: string[];
}

// Specs and the kernel's objects are compared by their text, as ip(8) prints it: the kernel's
// addresses and routes arrive printed by core/ip (netlink decode), the specs' are printed here.
const addrKey = (link: string, cidr: CIDR) => `${link} ${formatCIDR(cidr)}`;
const routeKey = (link: string | undefined, dst: string, gw: string | undefined, metric: number, table: number) =>
  `${link ?? "-"} ${dst} ${gw ?? "-"} ${metric} ${table}`;
/** A spec's destination as the kernel keeps it: without host bits. */
const specDst = (r: RouteSpec) => formatCIDR(networkOf(r.dst));
const specGateway = (r: RouteSpec) => (r.gateway ? formatIP(r.gateway) : undefined);

export async function reconcile(nl: Rtnl, spec: NetworkSpec, ownedLinks: Set<string>): Promise<ReconcileResult> {
  const changes: string[] = [], errors: string[] = [];
  const attempt = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
      changes.push(what);
    } catch (e) {
      errors.push(`${what}: ${(e as Error).message}`);
    }
  };

  let links = await nl.links();
  const byName = () => new Map(links.map((l) => [l.name, l]));
  const wanted = new Set(spec.links.map((l) => l.name));

  // 1. Virtual links that networkd created and the spec dropped go away (VLANs before bonds).
  for (const name of [...ownedLinks].sort((a, b) => Number(b.includes(".")) - Number(a.includes(".")))) {
    if (wanted.has(name)) continue;
    const l = byName().get(name);
    if (!l) { ownedLinks.delete(name); continue; }
    await attempt(`delete link ${name}`, () => nl.deleteLink(l.index, name));
    ownedLinks.delete(name);
  }
  links = await nl.links();

  // 2. Bonds, then their members, then VLANs (a VLAN may sit on a bond).
  for (const s of spec.links.filter((x) => x.kind === "bond")) {
    // A bond of that name with other settings (the kernel's own empty bond0, made at boot when
    // bonding is built in, is balance-rr): the mode cannot change under members, so remake it.
    const old = byName().get(s.name);
    if (old && (old.kind !== "bond" || old.bondMode !== s.bond!.mode || (s.bond!.miimon !== undefined && old.bondMiimon !== s.bond!.miimon))) {
      await attempt(`delete link ${s.name} (${old.kind === "bond" ? `a ${old.bondMode} bond` : `kind ${old.kind ?? "physical"}`}) to make it as configured`, () => nl.deleteLink(old.index, s.name));
      links = await nl.links();
    }
    if (!byName().has(s.name)) {
      await attempt(`create bond ${s.name} (${s.bond!.mode})`, async () => {
        const b: Parameters<Rtnl["createLink"]>[0] = { kind: "bond", name: s.name, mode: s.bond!.mode };
        if (s.bond!.miimon !== undefined) b.miimon = s.bond!.miimon;
        await nl.createLink(b);
        ownedLinks.add(s.name);
      });
      links = await nl.links();
    }
    const bond = byName().get(s.name);
    if (!bond) continue;
    for (const m of s.bond!.members) {
      const ml = byName().get(m);
      if (!ml) { errors.push(`bond ${s.name}: member ${m} does not exist`); continue; }
      if (ml.master === bond.index) continue;
      // A link must be down to be enslaved to a bond.
      await attempt(`enslave ${m} to ${s.name}`, async () => {
        if (ml.up) await nl.setUp(ml.index, false, m);
        await nl.setMaster(ml.index, bond.index, m);
        await nl.setUp(ml.index, true, m);
      });
    }
    links = await nl.links();
  }
  for (const s of spec.links.filter((x) => x.kind === "vlan")) {
    const parent = byName().get(s.vlan!.parent);
    const old = byName().get(s.name);
    if (old && old.kind === "vlan" && old.vlanId === s.vlan!.id && old.parent === parent?.index) continue;
    if (old) {
      await attempt(`delete link ${s.name} (not VLAN ${s.vlan!.id} on ${s.vlan!.parent}) to make it as configured`, () => nl.deleteLink(old.index, s.name));
      links = await nl.links();
      if (byName().has(s.name)) continue;
    }
    if (!parent) { errors.push(`vlan ${s.name}: parent ${s.vlan!.parent} does not exist`); continue; }
    await attempt(`create vlan ${s.name} (id ${s.vlan!.id} on ${parent.name})`, async () => {
      await nl.createLink({ kind: "vlan", name: s.name, parent: parent.index, vlanId: s.vlan!.id });
      ownedLinks.add(s.name);
    });
    links = await nl.links();
  }

  // 3. MTU and up, for every managed link.
  for (const s of spec.links) {
    const l = byName().get(s.name);
    if (!l) {
      if (s.kind === "physical") errors.push(`link ${s.name}: no such link`);
      continue;
    }
    if (s.mtu !== undefined && l.mtu !== s.mtu) await attempt(`set mtu ${s.mtu} on ${s.name}`, () => nl.setMtu(l.index, s.mtu!, s.name));
    if (!l.up) await attempt(`set ${s.name} up`, () => nl.setUp(l.index, true, s.name));
  }
  // The loopback: no layer configures it and a machine's starts down, but every connection to
  // this node's own addresses goes through it (a control plane's etcd health check, for one).
  const lo = byName().get("lo");
  if (lo && !lo.up) await attempt("set lo up", () => nl.setUp(lo.index, true, "lo"));
  links = await nl.links();
  const idx = byName();
  const nameOf = new Map(links.map((l) => [l.index, l.name]));

  // 4. Addresses.
  const want = new Map<string, AddressSpec>();
  for (const a of spec.addresses) want.set(addrKey(a.link, a.address), a);
  const have = (await nl.addresses()).filter((a) => wanted.has(nameOf.get(a.index) ?? ""));
  const haveKeys = new Map<string, Address>();
  for (const a of have) haveKeys.set(`${nameOf.get(a.index)} ${a.address}/${a.prefixLen}`, a);
  for (const [key, a] of haveKeys) {
    if (want.has(key) || !ownedAddress(a)) continue;
    await attempt(`delete address ${a.address}/${a.prefixLen} from ${nameOf.get(a.index)}`, () => nl.deleteAddress({ index: a.index, address: ipOf(a.address), prefixLen: a.prefixLen }));
  }
  for (const [key, a] of want) {
    const l = idx.get(a.link);
    if (!l) continue;
    const cur = haveKeys.get(key);
    // Re-add when missing, or to refresh a lease's lifetime when the kernel's copy runs out sooner.
    const refresh = cur && a.validLifetime !== undefined && (cur.validLifetime ?? Infinity) + 2 < a.validLifetime;
    if (cur && !refresh) continue;
    const body: Parameters<Rtnl["addAddress"]>[0] = { index: l.index, address: a.address.ip, prefixLen: a.address.prefix };
    if (a.validLifetime !== undefined) body.validLifetime = a.validLifetime;
    await attempt(`${cur ? "refresh" : "add"} address ${formatCIDR(a.address)} on ${a.link}`, () => nl.addAddress(body));
  }

  // 5. Routes (after addresses, so gateways are reachable).
  const wantR = new Map<string, RouteSpec>();
  for (const r of spec.routes) wantR.set(routeKey(r.link, specDst(r), specGateway(r), r.metric, r.table), r);
  const haveR = (await nl.routes(0, 0)).filter((r) => ownedRoute(r) && wanted.has(nameOf.get(r.oif ?? -1) ?? ""));
  const haveRKeys = new Map<string, Route>();
  for (const r of haveR) haveRKeys.set(routeKey(nameOf.get(r.oif!), r.dst, r.gateway, r.priority ?? 0, r.table), r);
  for (const [key, r] of haveRKeys) {
    if (wantR.has(key)) continue;
    const body: Parameters<Rtnl["deleteRoute"]>[0] = { dst: cidrOf(r.dst), table: r.table, priority: r.priority ?? 0 };
    if (r.gateway) body.gateway = ipOf(r.gateway);
    if (r.oif !== undefined) body.oif = r.oif;
    await attempt(`delete route ${r.dst}${r.gateway ? ` via ${r.gateway}` : ""} on ${nameOf.get(r.oif!)}`, () => nl.deleteRoute(body));
  }
  for (const [key, r] of wantR) {
    if (haveRKeys.has(key)) continue;
    const l = idx.get(r.link);
    if (!l) continue;
    const body: Parameters<Rtnl["addRoute"]>[0] = { dst: networkOf(r.dst), oif: l.index, priority: r.metric, table: r.table, protocol: r.layer === "dhcp" ? RTPROT.DHCP : RTPROT.STATIC };
    if (r.gateway) body.gateway = r.gateway;
    await attempt(`add route ${formatCIDR(r.dst)}${r.gateway ? ` via ${formatIP(r.gateway)}` : ""} on ${r.link}`, () => nl.addRoute(body));
  }

  return { changes, errors };
}

/** Addresses networkd may remove: not link-local, and for IPv6 only manually added (not SLAAC) ones. */
function ownedAddress(a: Address): boolean {
  if (a.scope !== RT_SCOPE.UNIVERSE) return false;
  return a.family === 4 || (a.flags & IFA_F.PERMANENT) !== 0;
}

/** Routes networkd may remove: those it adds itself (protocol static or dhcp), unicast. */
function ownedRoute(r: Route): boolean {
  return (r.protocol === RTPROT.STATIC || r.protocol === RTPROT.DHCP) && r.type === 1;
}

export type { Link };
