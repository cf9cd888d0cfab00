/**
 * networkd's status as resources of namespace "network", in the shape of the resource API
 * (core/api/proto/bunker/resource/v1/resource.proto): a type, an id, a plain spec. The store
 * takes them as they are; the definitions tell `bunkerctl get` their aliases and columns.
 */
import type { NetworkStatus } from "./types.ts";

export const NAMESPACE = "network";

export interface ResourceDefinitionLike {
  type: string;
  displayType: string;
  aliases: string[];
  defaultNamespace: string;
  printColumns: { name: string; jsonPath: string }[];
}

const def = (plural: string, display: string, aliases: string[], cols: [string, string][]): ResourceDefinitionLike => ({
  type: `${plural}.net.bunker.dev`, displayType: display, aliases, defaultNamespace: NAMESPACE,
  printColumns: cols.map(([name, jsonPath]) => ({ name, jsonPath })),
});

export const DEFINITIONS = {
  link: def("LinkStatuses", "LinkStatus", ["links", "link"], [["KIND", "{.kind}"], ["UP", "{.up}"], ["CARRIER", "{.carrier}"], ["MTU", "{.mtu}"], ["MAC", "{.mac}"]]),
  address: def("AddressStatuses", "AddressStatus", ["addresses", "address", "addrs"], [["ADDRESS", "{.address}"], ["LINK", "{.link}"]]),
  route: def("RouteStatuses", "RouteStatus", ["routes", "route"], [["DESTINATION", "{.dst}"], ["GATEWAY", "{.gateway}"], ["LINK", "{.link}"], ["METRIC", "{.metric}"]]),
  hostname: def("HostnameStatuses", "HostnameStatus", ["hostname"], [["HOSTNAME", "{.hostname}"], ["DOMAIN", "{.domain}"]]),
  resolver: def("ResolverStatuses", "ResolverStatus", ["resolvers"], [["SERVERS", "{.servers}"]]),
  timeServer: def("TimeServerStatuses", "TimeServerStatus", ["timeservers"], [["SERVERS", "{.servers}"]]),
  time: def("TimeStatuses", "TimeStatus", ["timestatus"], [["SYNCED", "{.synced}"], ["SERVER", "{.server}"]]),
} as const;

export interface PlainResource {
  namespace: string;
  type: string;
  id: string;
  spec: unknown;
}

const table = (t: number) => (t === 254 ? "main" : String(t));

export function statusResources(s: NetworkStatus): PlainResource[] {
  const r = (d: ResourceDefinitionLike, id: string, spec: unknown): PlainResource => ({ namespace: NAMESPACE, type: d.type, id, spec });
  return [
    ...s.links.map((l) => r(DEFINITIONS.link, l.name, l)),
    ...s.addresses.map((a) => r(DEFINITIONS.address, `${a.link}/${a.address}`, a)),
    ...s.routes.map((x) => r(DEFINITIONS.route, `inet${x.dst.includes(":") ? 6 : 4}/${table(x.table)}/${x.dst}/${x.gateway ?? ""}/${x.link ?? ""}/${x.metric}`, x)),
    r(DEFINITIONS.hostname, "hostname", s.hostname),
    r(DEFINITIONS.resolver, "resolvers", s.resolvers),
    r(DEFINITIONS.timeServer, "timeservers", s.timeServers),
    r(DEFINITIONS.time, "node", s.timeStatus),
  ];
}
