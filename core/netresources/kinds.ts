/**
 * The network's resources, shared by the one who writes them (networkd, through init's
 * ResourcePublisher) and the one who keeps and reads them (init: definitions for `get`, the
 * network-online and time-synced conditions, MachineStatus, the hostname). Names and shapes only.
 */
import type { Kind, Ref, ResourceDefinition } from "../resources/index.ts";
import type { MachineConfig } from "../config/schema.ts";

export const NETWORK_NAMESPACE = "network";

const kind = (plural: string): Kind => ({ namespace: NETWORK_NAMESPACE, type: `${plural}.network.bunker.dev` });

/** One per link, id = link name. */
export const LINK_STATUSES = kind("LinkStatuses");
/** One per address, id = LINK/ADDRESS/PREFIX. */
export const ADDRESS_STATUSES = kind("AddressStatuses");
/** One per route, id = inetF/TABLE/DST/GATEWAY/LINK/METRIC. */
export const ROUTE_STATUSES = kind("RouteStatuses");
/** The hostname networkd's layers chose (config > DHCP > cmdline > default), id "hostname". */
export const HOSTNAME_SPECS = kind("HostnameSpecs");
/** The node's hostname as init set it (init owns it), id "hostname". */
export const HOSTNAME_STATUSES = kind("HostnameStatuses");
/** id "resolvers". */
export const RESOLVER_STATUSES = kind("ResolverStatuses");
/** id "timeservers". */
export const TIME_SERVER_STATUSES = kind("TimeServerStatuses");
/** id "node". */
export const TIME_STATUSES = kind("TimeStatuses");
/** init's summary of the above (network online), id "status". */
export const NETWORK_STATUSES = kind("NetworkStatuses");
/** machine.network and machine.time of the applied config, all networkd may read; id "v1alpha1". */
export const NETWORK_CONFIGS: Kind = { namespace: "config", type: "NetworkConfigs.config.bunker.dev" };

export const HOSTNAME_SPEC: Ref = { ...HOSTNAME_SPECS, id: "hostname" };
export const HOSTNAME_STATUS: Ref = { ...HOSTNAME_STATUSES, id: "hostname" };
export const RESOLVER_STATUS: Ref = { ...RESOLVER_STATUSES, id: "resolvers" };
export const TIME_SERVER_STATUS: Ref = { ...TIME_SERVER_STATUSES, id: "timeservers" };
export const TIME_STATUS: Ref = { ...TIME_STATUSES, id: "node" };
export const NETWORK_STATUS: Ref = { ...NETWORK_STATUSES, id: "status" };
export const NETWORK_CONFIG: Ref = { ...NETWORK_CONFIGS, id: "v1alpha1" };

/** The kinds networkd publishes (and so may write through the publisher); init owns the rest. */
export const NETWORKD_KINDS: readonly Kind[] = [
  LINK_STATUSES, ADDRESS_STATUSES, ROUTE_STATUSES, HOSTNAME_SPECS, RESOLVER_STATUSES, TIME_SERVER_STATUSES, TIME_STATUSES,
];

export interface LinkStatusSpec {
  index: number; name: string; kind: string; up: boolean; carrier: boolean; operState: string;
  mtu: number; mac: string; master?: string; vlanId?: number; parent?: string; bondMode?: string;
}
export interface AddressStatusSpec { link: string; address: string; family: 4 | 6; scope: string; validLifetime?: number }
export interface RouteStatusSpec { link?: string; dst: string; gateway?: string; metric: number; table: number; protocol: string }
export interface HostnameSpecSpec { hostname: string; domain?: string; layer: string }
export interface HostnameStatusSpec { hostname: string; domainname: string; source: string }
export interface ResolverStatusSpec { servers: string[]; search: string[] }
export interface TimeServerStatusSpec { servers: string[] }
export interface TimeStatusSpec {
  synced: boolean;
  /** networkd does not manage the clock (machine.time.disabled, or --no-time). */
  disabled?: boolean;
  server?: string; offsetMs?: number; delayMs?: number; action?: string; lastSync?: string; lastError?: string;
}
export interface NetworkStatusSpec {
  online: boolean;
  /** Why not online, or which address made it so. */
  reason: string;
  /** Global addresses on links that are up (not loopback). */
  addresses: string[];
  defaultRoute: boolean;
}
/** machine.network and machine.time of the checked config, typed as core/config made them (defaults in). */
export type NetworkConfigSpec = Pick<MachineConfig["machine"], "network" | "time">;

const col = (name: string, field: string) => ({ name, path: `spec.${field}` });

export const NETWORK_DEFINITIONS: readonly ResourceDefinition[] = [
  { ...LINK_STATUSES, aliases: ["links", "link", "linkstatus"], columns: [col("KIND", "kind"), col("UP", "up"), col("CARRIER", "carrier"), col("MTU", "mtu"), col("MAC", "mac")] },
  { ...ADDRESS_STATUSES, aliases: ["addresses", "address", "addrs"], columns: [col("ADDRESS", "address"), col("LINK", "link"), col("SCOPE", "scope")] },
  { ...ROUTE_STATUSES, aliases: ["routes", "route"], columns: [col("DESTINATION", "dst"), col("GATEWAY", "gateway"), col("LINK", "link"), col("METRIC", "metric"), col("TABLE", "table")] },
  { ...HOSTNAME_SPECS, aliases: ["hostnamespec", "hostnamespecs"], columns: [col("HOSTNAME", "hostname"), col("DOMAIN", "domain"), col("LAYER", "layer")] },
  { ...HOSTNAME_STATUSES, aliases: ["hostname", "hostnames"], columns: [col("HOSTNAME", "hostname"), col("DOMAINNAME", "domainname"), col("SOURCE", "source")] },
  { ...RESOLVER_STATUSES, aliases: ["resolvers", "resolver"], columns: [col("SERVERS", "servers"), col("SEARCH", "search")] },
  { ...TIME_SERVER_STATUSES, aliases: ["timeservers", "timeserver"], columns: [col("SERVERS", "servers")] },
  { ...TIME_STATUSES, aliases: ["timestatus", "timestatuses"], columns: [col("SYNCED", "synced"), col("SERVER", "server"), col("OFFSET_MS", "offsetMs")] },
  { ...NETWORK_STATUSES, aliases: ["networkstatus", "netstatus"], columns: [col("ONLINE", "online"), col("REASON", "reason")] },
  { ...NETWORK_CONFIGS, aliases: ["networkconfig", "networkconfigs"], columns: [] },
];
