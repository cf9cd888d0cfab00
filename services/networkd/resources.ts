/**
 * networkd's status as resources of namespace "network" (core/netresources): what it publishes
 * into init's store, and what `bunkerctl get links|addresses|routes|...` shows. Every resource of
 * these kinds is sent on each pass, so one that is no longer in the list is gone.
 */
import type { Kind } from "../../core/resources/index.ts";
import {
  ADDRESS_STATUSES, HOSTNAME_SPEC, LINK_STATUSES, NETWORKD_KINDS, RESOLVER_STATUS, ROUTE_STATUSES, TIME_SERVER_STATUS, TIME_STATUS,
  type HostnameSpecSpec, type TimeStatusSpec,
} from "../../core/netresources/kinds.ts";
import type { NetworkStatus } from "./types.ts";

export interface PlainResource {
  namespace: string;
  type: string;
  id: string;
  spec: unknown;
}

const table = (t: number) => (t === 254 ? "main" : String(t));

export function statusResources(s: NetworkStatus): PlainResource[] {
  const r = (k: Kind, id: string, spec: unknown): PlainResource => ({ namespace: k.namespace, type: k.type, id, spec });
  const hostname: HostnameSpecSpec = { ...s.hostname };
  const time: TimeStatusSpec = { ...s.timeStatus };
  return [
    ...s.links.map((l) => r(LINK_STATUSES, l.name, l)),
    ...s.addresses.map((a) => r(ADDRESS_STATUSES, `${a.link}/${a.address}`, a)),
    ...s.routes.map((x) => r(ROUTE_STATUSES, `inet${x.dst.includes(":") ? 6 : 4}/${table(x.table)}/${x.dst}/${x.gateway ?? ""}/${x.link ?? ""}/${x.metric}`, x)),
    r(HOSTNAME_SPEC, HOSTNAME_SPEC.id, hostname),
    r(RESOLVER_STATUS, RESOLVER_STATUS.id, s.resolvers),
    r(TIME_SERVER_STATUS, TIME_SERVER_STATUS.id, s.timeServers),
    r(TIME_STATUS, TIME_STATUS.id, time),
  ];
}

/** The resources grouped by kind, every kind networkd publishes present (empty: all gone). */
export function byKind(list: PlainResource[]): Map<string, { kind: Kind; items: PlainResource[] }> {
  const out = new Map<string, { kind: Kind; items: PlainResource[] }>();
  for (const k of NETWORKD_KINDS) out.set(`${k.namespace}/${k.type}`, { kind: k, items: [] });
  for (const x of list) out.get(`${x.namespace}/${x.type}`)?.items.push(x);
  return out;
}
