/**
 * The rtnetlink operations networkd needs, over one NetlinkSocket: links (list, up/down, MTU,
 * VLAN, bond, bridge, master, delete), addresses (list/add/delete, v4 and v6) and routes
 * (list/add/delete, default, metric, table). Every error names the object it was about.
 */
import { RTM, NLM_F, RT_TABLE } from "./consts.ts";
import { NetlinkSocket } from "./socket.ts";
import { decodeLink, encodeIfinfo, newLinkBody, setLinkBody, type Link, type NewLinkSpec } from "./link.ts";
import { addressBody, addressDumpBody, decodeAddress, type Address, type AddressSpec } from "./addr.ts";
import { decodeRoute, routeBody, routeDumpBody, type Route, type RouteSpec } from "./route.ts";
import { formatCIDR, formatIP, type Family } from "../ip/ip.ts";
import type { NlMsg } from "./message.ts";

export class Rtnl {
  private constructor(private readonly nl: NetlinkSocket) {}

  static open(): Rtnl {
    return new Rtnl(NetlinkSocket.open());
  }

  close(): Promise<void> {
    return this.nl.close();
  }

  /** Replies that did not decode (kept as a count; a dump skips them). */
  get malformed(): number {
    return this.nl.malformed;
  }

  private decodeAll<T>(msgs: NlMsg[], type: number, decode: (p: Uint8Array) => T): T[] {
    const out: T[] = [];
    for (const m of msgs) {
      if (m.type !== type) continue;
      try {
        out.push(decode(m.payload));
      } catch {
        this.nl.malformed++;
      }
    }
    return out;
  }

  // ---- links ----

  async links(): Promise<Link[]> {
    const msgs = await this.nl.dump(RTM.GETLINK, encodeIfinfo({}), "list links");
    return this.decodeAll(msgs, RTM.NEWLINK, decodeLink);
  }

  async link(name: string): Promise<Link | undefined> {
    return (await this.links()).find((l) => l.name === name);
  }

  async linkIndex(name: string): Promise<number> {
    const l = await this.link(name);
    if (!l) throw new Error(`link ${name}: no such link`);
    return l.index;
  }

  setUp(index: number, up: boolean, name = `#${index}`): Promise<void> {
    return this.nl.ack(RTM.NEWLINK, 0, setLinkBody(index, { up }), `set link ${name} ${up ? "up" : "down"}`);
  }

  setMtu(index: number, mtu: number, name = `#${index}`): Promise<void> {
    return this.nl.ack(RTM.NEWLINK, 0, setLinkBody(index, { mtu }), `set mtu ${mtu} on link ${name}`);
  }

  /** Enslaves a link to a bond or bridge; master 0 releases it. */
  setMaster(index: number, master: number, name = `#${index}`): Promise<void> {
    return this.nl.ack(RTM.NEWLINK, 0, setLinkBody(index, { master }), master ? `enslave link ${name} to #${master}` : `release link ${name}`);
  }

  createLink(spec: NewLinkSpec): Promise<void> {
    return this.nl.ack(RTM.NEWLINK, NLM_F.CREATE | NLM_F.EXCL, newLinkBody(spec), `create ${spec.kind} link ${spec.name}`);
  }

  deleteLink(index: number, name = `#${index}`): Promise<void> {
    return this.nl.ack(RTM.DELLINK, 0, encodeIfinfo({ index }), `delete link ${name}`);
  }

  // ---- addresses ----

  async addresses(family: 0 | Family = 0): Promise<Address[]> {
    const msgs = await this.nl.dump(RTM.GETADDR, addressDumpBody(family), "list addresses");
    return this.decodeAll(msgs, RTM.NEWADDR, decodeAddress);
  }

  /** Adds an address, or updates its lifetimes when it is already there (NLM_F_REPLACE). */
  addAddress(s: AddressSpec): Promise<void> {
    return this.nl.ack(RTM.NEWADDR, NLM_F.CREATE | NLM_F.REPLACE, addressBody(s), `add address ${formatIP(s.address)}/${s.prefixLen} to link #${s.index}`);
  }

  deleteAddress(s: AddressSpec): Promise<void> {
    return this.nl.ack(RTM.DELADDR, 0, addressBody(s), `delete address ${formatIP(s.address)}/${s.prefixLen} from link #${s.index}`);
  }

  // ---- routes ----

  /** Routes of the given table (default main; 0 = every table). */
  async routes(family: 0 | Family = 0, table: number = RT_TABLE.MAIN): Promise<Route[]> {
    const msgs = await this.nl.dump(RTM.GETROUTE, routeDumpBody(family), "list routes");
    const all = this.decodeAll(msgs, RTM.NEWROUTE, decodeRoute);
    return table === 0 ? all : all.filter((r) => r.table === table);
  }

  /** Adds a route, or replaces the one with the same destination, table and metric. */
  addRoute(s: RouteSpec): Promise<void> {
    return this.nl.ack(RTM.NEWROUTE, NLM_F.CREATE | NLM_F.REPLACE, routeBody(s), `add route ${describe(s)}`);
  }

  deleteRoute(s: RouteSpec): Promise<void> {
    return this.nl.ack(RTM.DELROUTE, 0, routeBody(s), `delete route ${describe(s)}`);
  }
}

function describe(s: RouteSpec): string {
  return `${formatCIDR(s.dst)}${s.gateway ? ` via ${formatIP(s.gateway)}` : ""}${s.oif !== undefined ? ` dev #${s.oif}` : ""}${s.priority !== undefined ? ` metric ${s.priority}` : ""}${s.table !== undefined ? ` table ${s.table}` : ""}`;
}
