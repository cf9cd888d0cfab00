/**
 * machine.network and machine.time as their consumers take them: every address and prefix
 * parsed (core/ip's IP and CIDR), the boot timeout in milliseconds. The schema has already
 * checked every string here, so the parse cannot fail; it is done once, by this module, and no
 * consumer reads the text again. The YAML-facing MachineConfig keeps the text: it is what the
 * store, `get mc` and redaction show, and what crosses init's socket (JSON) to networkd.
 */
import { cidrOf, ipOf, type CIDR, type IP } from "../ip/ip.ts";
import type { BOND_MODES, MachineConfig } from "./schema.ts";
import { durationMs } from "./forms.ts";

type BondMode = (typeof BOND_MODES)[number];

export interface RouteConfig { network: CIDR; gateway?: IP; metric: number; table: number }
export interface VlanConfig { vlanId: number; addresses: CIDR[]; routes: RouteConfig[]; dhcp: boolean; mtu?: number }
export interface InterfaceConfig {
  interface: string; addresses: CIDR[]; routes: RouteConfig[]; dhcp: boolean; mtu?: number; ignore: boolean;
  vlans: VlanConfig[]; bond?: { interfaces: string[]; mode: BondMode; miimon?: number };
}
export interface NetworkConfig {
  hostname?: string;
  interfaces: InterfaceConfig[];
  nameservers: IP[];
  searchDomains: string[];
  extraHostEntries: { ip: IP; aliases: string[] }[];
  /** `servers` is empty when the config names none, so DHCP's servers (else networkd's default) win. */
  time: { disabled: boolean; servers: string[]; bootTimeoutMs: number };
}

/** machine.network and machine.time as the schema made them (defaults filled in). */
export type NetworkSections = Pick<MachineConfig["machine"], "network" | "time">;

type SchemaRoute = NetworkSections["network"]["interfaces"][number]["routes"][number];

/** The default route of a family: what a route without a destination means. */
export const DEFAULT_ROUTE: Record<4 | 6, CIDR> = {
  4: { ip: { family: 4, bytes: new Uint8Array(4) }, prefix: 0 },
  6: { ip: { family: 6, bytes: new Uint8Array(16) }, prefix: 0 },
};

function routes(rs: SchemaRoute[]): RouteConfig[] {
  return rs.map((r) => {
    const gateway = r.gateway === undefined ? undefined : ipOf(r.gateway);
    // Without a destination a route is the default route of its gateway's family.
    const rc: RouteConfig = { network: r.network === undefined ? DEFAULT_ROUTE[gateway?.family ?? 4] : cidrOf(r.network), metric: r.metric, table: r.table };
    if (gateway) rc.gateway = gateway;
    return rc;
  });
}

/** The typed view of checked sections; throws AddressError only on text the schema never let through. */
export function parseNetworkSections(s: NetworkSections): NetworkConfig {
  const net = s.network;
  const cfg: NetworkConfig = {
    interfaces: net.interfaces.map((i) => {
      const ic: InterfaceConfig = {
        interface: i.interface, addresses: i.addresses.map(cidrOf), routes: routes(i.routes), dhcp: i.dhcp, ignore: i.ignore,
        vlans: i.vlans.map((vl) => {
          const vc: VlanConfig = { vlanId: vl.vlanId, addresses: vl.addresses.map(cidrOf), routes: routes(vl.routes), dhcp: vl.dhcp };
          if (vl.mtu !== undefined) vc.mtu = vl.mtu;
          return vc;
        }),
      };
      if (i.mtu !== undefined) ic.mtu = i.mtu;
      if (i.bond) ic.bond = { interfaces: i.bond.interfaces, mode: i.bond.mode, miimon: i.bond.miimon };
      return ic;
    }),
    nameservers: net.nameservers.map(ipOf),
    searchDomains: net.searchDomains,
    extraHostEntries: net.extraHostEntries.map((e) => ({ ip: ipOf(e.ip), aliases: e.aliases })),
    time: { disabled: s.time.disabled, servers: s.time.servers ?? [], bootTimeoutMs: durationMs(s.time.bootTimeout) },
  };
  if (net.hostname !== undefined) cfg.hostname = net.hostname;
  return cfg;
}
