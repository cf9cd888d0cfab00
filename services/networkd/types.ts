/**
 * The network resources as plain typed objects. Specs are what should be (merged from the
 * layers); statuses are what the kernel has. Every spec carries the layer it came from.
 */
import type { BondMode } from "../../core/netlink/consts.ts";

/** Lowest to highest; a higher layer wins for the same object. */
export const LAYERS = ["default", "cmdline", "dhcp", "config"] as const;
export type Layer = (typeof LAYERS)[number];

export interface LinkSpec {
  name: string;
  layer: Layer;
  kind: "physical" | "vlan" | "bond";
  mtu?: number;
  dhcp: boolean;
  vlan?: { parent: string; id: number };
  bond?: { mode: BondMode; miimon?: number; members: string[] };
}

export interface AddressSpec {
  link: string;
  /** CIDR, e.g. 10.5.0.2/24 or fd00::2/64. */
  address: string;
  layer: Layer;
  /** Seconds (DHCP leases); absent: forever. */
  validLifetime?: number;
}

export interface RouteSpec {
  link: string;
  /** CIDR; 0.0.0.0/0 or ::/0 for a default route. */
  dst: string;
  gateway?: string;
  metric: number;
  table: number;
  layer: Layer;
}

export interface HostnameSpec { hostname: string; domain?: string; layer: Layer }
export interface ResolverSpec { servers: string[]; search: string[]; layer: Layer }
export interface TimeServerSpec { servers: string[]; layer: Layer }
export interface HostEntry { ip: string; aliases: string[] }

/** Everything networkd applies, after merging the layers. */
export interface NetworkSpec {
  links: LinkSpec[];
  addresses: AddressSpec[];
  routes: RouteSpec[];
  hostname: HostnameSpec;
  resolvers: ResolverSpec;
  timeServers: TimeServerSpec;
  extraHosts: HostEntry[];
  /** Links the config told networkd to leave alone. */
  ignored: string[];
  timeDisabled: boolean;
}

export interface LinkStatus {
  index: number; name: string; kind: string; up: boolean; carrier: boolean; operState: string;
  mtu: number; mac: string; master?: string; vlanId?: number; parent?: string; bondMode?: string;
}
export interface AddressStatus { link: string; address: string; family: 4 | 6; scope: string; validLifetime?: number }
export interface RouteStatus { link?: string; dst: string; gateway?: string; metric: number; table: number; protocol: string }
export interface HostnameStatus { hostname: string; domain?: string }
export interface ResolverStatus { servers: string[]; search: string[] }
export interface TimeServerStatus { servers: string[] }
export interface DhcpStatus { link: string; state: string; address?: string; server?: string; leaseTime?: number; malformed: number; lastError?: string }

export interface NetworkStatus {
  links: LinkStatus[];
  addresses: AddressStatus[];
  routes: RouteStatus[];
  hostname: HostnameStatus;
  resolvers: ResolverStatus;
  timeServers: TimeServerStatus;
  timeStatus: import("../../core/sntp/client.ts").TimeStatus;
  dhcp: DhcpStatus[];
  /** Problems of the last reconcile pass (each retried on the next). */
  errors: string[];
}
