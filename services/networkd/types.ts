/**
 * The network resources as plain typed objects. Specs are what should be (merged from the
 * layers); statuses are what the kernel has. Every spec carries the layer it came from.
 * Addresses and routes are core/ip values: they go to netlink as bytes. Resolvers and host
 * entries are text: they go into files.
 */
import type { CIDR, IP } from "../../core/ip/ip.ts";
import type { BondMode } from "../../core/netlink/consts.ts";
import type {
  AddressStatusSpec, LinkStatusSpec, ResolverStatusSpec, RouteStatusSpec, TimeServerStatusSpec,
} from "../../core/netresources/kinds.ts";

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
  /** e.g. 10.5.0.2/24 or fd00::2/64. */
  address: CIDR;
  layer: Layer;
  /** Seconds (DHCP leases); absent: forever. */
  validLifetime?: number;
}

export interface RouteSpec {
  link: string;
  /** 0.0.0.0/0 or ::/0 for a default route. */
  dst: CIDR;
  gateway?: IP;
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

// The statuses are the specs of the resources networkd publishes (core/netresources).
export type LinkStatus = LinkStatusSpec;
export type AddressStatus = AddressStatusSpec;
export type RouteStatus = RouteStatusSpec;
/** The hostname networkd wants (init sets it in the kernel), with the layer it came from. */
export interface HostnameStatus { hostname: string; domain?: string; layer: Layer }
export type ResolverStatus = ResolverStatusSpec;
export type TimeServerStatus = TimeServerStatusSpec;
export interface DhcpStatus { link: string; state: string; address?: string; server?: string; leaseTime?: number; malformed: number; lastError?: string }

export interface NetworkStatus {
  links: LinkStatus[];
  addresses: AddressStatus[];
  routes: RouteStatus[];
  hostname: HostnameStatus;
  resolvers: ResolverStatus;
  timeServers: TimeServerStatus;
  /** disabled: networkd does not manage the clock here (config or --no-time). */
  timeStatus: import("../../core/sntp/client.ts").TimeStatus & { disabled?: boolean };
  dhcp: DhcpStatus[];
  /** Problems of the last reconcile pass (each retried on the next). */
  errors: string[];
}
