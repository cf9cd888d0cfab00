/**
 * The network part of the machine config (machine.network and machine.time) in the shape the
 * layers use. It comes from one of two places:
 * - a machine config file (`--config`), checked whole by core/config's loadConfig, so errors
 *   name the YAML path and its line:column;
 * - init's NetworkConfigs resource (networkd under init), which carries only those two sections
 *   as init's loadConfig made them: typed, defaults in, mapped by fromSections without a second
 *   check.
 */
import * as v from "valibot";
import { durationMs, formatProblems, loadConfig, NetworkSchema, TimeSchema, type MachineConfig } from "../../core/config/config.ts";
import type { BondMode } from "../../core/netlink/consts.ts";

export interface RouteConfig { network: string; gateway?: string; metric?: number; table?: number }
export interface VlanConfig { vlanId: number; addresses: string[]; routes: RouteConfig[]; dhcp: boolean; mtu?: number }
export interface InterfaceConfig {
  interface: string; addresses: string[]; routes: RouteConfig[]; dhcp: boolean; mtu?: number; ignore: boolean;
  vlans: VlanConfig[]; bond?: { interfaces: string[]; mode: BondMode; miimon?: number };
}
export interface NetworkConfig {
  hostname?: string;
  interfaces: InterfaceConfig[];
  nameservers: string[];
  searchDomains: string[];
  extraHostEntries: { ip: string; aliases: string[] }[];
  /** `servers` is empty when the config names none, so DHCP's servers (else networkd's default) win. */
  time: { disabled: boolean; servers: string[]; bootTimeoutMs?: number };
}

/** machine.network and machine.time as core/config validated them (defaults filled in). */
export type NetworkSections = Pick<MachineConfig["machine"], "network" | "time">;

export class ConfigError extends Error {
  constructor(where: string, what: string) {
    super(`${where}: ${what}`);
    this.name = "ConfigError";
  }
}

type SchemaRoute = NetworkSections["network"]["interfaces"][number]["routes"][number];

function routes(rs: SchemaRoute[]): RouteConfig[] {
  const out: RouteConfig[] = [];
  for (const r of rs) {
    // Without a destination a route is the default route of its gateway's family.
    const network = r.network ?? (r.gateway?.includes(":") ? "::/0" : "0.0.0.0/0");
    const rc: RouteConfig = { network, metric: r.metric, table: r.table };
    if (r.gateway) rc.gateway = r.gateway;
    out.push(rc);
  }
  return out;
}

/** Maps validated sections to what the layers take. */
export function fromSections(s: NetworkSections): NetworkConfig {
  const net = s.network;
  const cfg: NetworkConfig = {
    interfaces: net.interfaces.map((i) => {
      const ic: InterfaceConfig = {
        interface: i.interface, addresses: i.addresses, routes: routes(i.routes), dhcp: i.dhcp, ignore: i.ignore,
        vlans: i.vlans.map((vl) => {
          const vc: VlanConfig = { vlanId: vl.vlanId, addresses: vl.addresses, routes: routes(vl.routes), dhcp: vl.dhcp };
          if (vl.mtu !== undefined) vc.mtu = vl.mtu;
          return vc;
        }),
      };
      if (i.mtu !== undefined) ic.mtu = i.mtu;
      if (i.bond) ic.bond = { interfaces: i.bond.interfaces, mode: i.bond.mode, miimon: i.bond.miimon };
      return ic;
    }),
    nameservers: net.nameservers,
    searchDomains: net.searchDomains,
    extraHostEntries: net.extraHostEntries,
    time: {
      disabled: s.time.disabled,
      servers: s.time.servers ?? [],
      bootTimeoutMs: durationMs(s.time.bootTimeout),
    },
  };
  if (net.hostname !== undefined) cfg.hostname = net.hostname;
  return cfg;
}

function issuePath(prefix: string, issue: v.BaseIssue<unknown>): string {
  let p = prefix;
  for (const seg of issue.path ?? []) p += typeof seg.key === "number" ? `[${seg.key}]` : `.${String(seg.key)}`;
  return p;
}

/**
 * Checks `{network, time}` written by hand (tests, tools: what init sends is checked already)
 * with core/config's schemas and maps them; throws ConfigError naming the path of every problem.
 */
export function networkConfigOf(sections: { network?: unknown; time?: unknown }): NetworkConfig {
  const net = v.safeParse(NetworkSchema, sections.network ?? {}, { abortEarly: false });
  const time = v.safeParse(TimeSchema, sections.time ?? {}, { abortEarly: false });
  const problems = [
    ...(net.issues ?? []).map((i) => `${issuePath("machine.network", i)}: ${i.message}`),
    ...(time.issues ?? []).map((i) => `${issuePath("machine.time", i)}: ${i.message}`),
  ];
  if (!net.success || !time.success) throw new ConfigError("network config", problems.join("; "));
  return fromSections({ network: net.output, time: time.output });
}

/** Reads and checks a whole machine config file; errors carry FILE:LINE:COL and the YAML path. */
export async function loadNetworkConfig(file: string): Promise<NetworkConfig> {
  const text = await Bun.file(file).text();
  const res = loadConfig(text);
  if (!res.config) throw new ConfigError("machine config", `refused:\n${formatProblems(file, res.errors)}`);
  return fromSections(res.config.machine);
}
