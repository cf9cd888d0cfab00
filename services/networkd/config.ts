/**
 * The network part of the machine config (machine.network and machine.time), read from the
 * YAML file and checked here with errors that name the YAML path. (The full schema lives with
 * the config loader; networkd only relies on these fields.)
 */
import { parseDocument } from "yaml";
import { BOND_MODES, type BondMode } from "../../core/netlink/consts.ts";
import { isIp, parseCidr } from "../../core/netlink/ip.ts";

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
  time: { disabled: boolean; servers: string[]; bootTimeoutMs?: number };
}

export class ConfigError extends Error {
  constructor(path: string, what: string) {
    super(`${path}: ${what}`);
    this.name = "ConfigError";
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

function obj(v: unknown, path: string): Obj {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) throw new ConfigError(path, "expected a mapping");
  return v;
}
function arr(v: unknown, path: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ConfigError(path, "expected a list");
  return v;
}
function str(v: unknown, path: string): string {
  if (typeof v !== "string" || v === "") throw new ConfigError(path, "expected a non-empty string");
  return v;
}
function bool(v: unknown, path: string): boolean {
  if (v === undefined) return false;
  if (typeof v !== "boolean") throw new ConfigError(path, "expected true or false");
  return v;
}
function int(v: unknown, path: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) throw new ConfigError(path, `expected an integer ${min}..${max}`);
  return v;
}
function cidr(v: unknown, path: string): string {
  const s = str(v, path);
  try {
    parseCidr(s);
  } catch (e) {
    throw new ConfigError(path, (e as Error).message);
  }
  return s;
}
function ip(v: unknown, path: string): string {
  const s = str(v, path);
  if (!isIp(s)) throw new ConfigError(path, `"${s}" is not an IP address`);
  return s;
}

const HOSTNAME_RE = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

function routes(v: unknown, path: string): RouteConfig[] {
  return arr(v, path).map((r, i) => {
    const p = `${path}[${i}]`;
    const o = obj(r, p);
    const out: RouteConfig = { network: cidr(o.network, `${p}.network`) };
    if (o.gateway !== undefined) out.gateway = ip(o.gateway, `${p}.gateway`);
    const metric = int(o.metric, `${p}.metric`, 0, 0xffffffff);
    if (metric !== undefined) out.metric = metric;
    const table = int(o.table, `${p}.table`, 1, 0xffffffff);
    if (table !== undefined) out.table = table;
    return out;
  });
}

function duration(v: unknown, path: string): number | undefined {
  if (v === undefined) return undefined;
  const m = typeof v === "string" ? /^(\d+)(ms|s|m|h)$/.exec(v) : null;
  if (!m) throw new ConfigError(path, 'expected a duration like "30s" or "2m"');
  return Number(m[1]) * { ms: 1, s: 1000, m: 60000, h: 3600000 }[m[2] as "ms" | "s" | "m" | "h"];
}

/** The network and time settings of a parsed machine config document. */
export function networkConfigOf(doc: unknown): NetworkConfig {
  const machine = obj(obj(doc, "(document)").machine, "machine");
  const net = obj(machine.network, "machine.network");
  const time = obj(machine.time, "machine.time");
  const cfg: NetworkConfig = {
    interfaces: [],
    nameservers: arr(net.nameservers, "machine.network.nameservers").map((v, i) => ip(v, `machine.network.nameservers[${i}]`)),
    searchDomains: arr(net.searchDomains, "machine.network.searchDomains").map((v, i) => str(v, `machine.network.searchDomains[${i}]`)),
    extraHostEntries: arr(net.extraHostEntries, "machine.network.extraHostEntries").map((e, i) => {
      const p = `machine.network.extraHostEntries[${i}]`;
      const o = obj(e, p);
      return { ip: ip(o.ip, `${p}.ip`), aliases: arr(o.aliases, `${p}.aliases`).map((a, j) => str(a, `${p}.aliases[${j}]`)) };
    }),
    time: {
      disabled: bool(time.disabled, "machine.time.disabled"),
      servers: arr(time.servers, "machine.time.servers").map((v, i) => str(v, `machine.time.servers[${i}]`)),
    },
  };
  const bt = duration(time.bootTimeout, "machine.time.bootTimeout");
  if (bt !== undefined) cfg.time.bootTimeoutMs = bt;
  if (net.hostname !== undefined) {
    const h = str(net.hostname, "machine.network.hostname");
    if (!HOSTNAME_RE.test(h)) throw new ConfigError("machine.network.hostname", `"${h}" is not a valid hostname (RFC 1123 labels)`);
    cfg.hostname = h;
  }
  const seen = new Set<string>();
  arr(net.interfaces, "machine.network.interfaces").forEach((raw, i) => {
    const p = `machine.network.interfaces[${i}]`;
    const o = obj(raw, p);
    const name = str(o.interface, `${p}.interface`);
    if (seen.has(name)) throw new ConfigError(`${p}.interface`, `"${name}" appears twice`);
    seen.add(name);
    const ic: InterfaceConfig = {
      interface: name,
      addresses: arr(o.addresses, `${p}.addresses`).map((a, j) => cidr(a, `${p}.addresses[${j}]`)),
      routes: routes(o.routes, `${p}.routes`),
      dhcp: bool(o.dhcp, `${p}.dhcp`),
      ignore: bool(o.ignore, `${p}.ignore`),
      vlans: arr(o.vlans, `${p}.vlans`).map((v, j) => {
        const vp = `${p}.vlans[${j}]`;
        const vo = obj(v, vp);
        const vc: VlanConfig = {
          vlanId: int(vo.vlanId, `${vp}.vlanId`, 1, 4094) ?? (() => { throw new ConfigError(`${vp}.vlanId`, "required"); })(),
          addresses: arr(vo.addresses, `${vp}.addresses`).map((a, k) => cidr(a, `${vp}.addresses[${k}]`)),
          routes: routes(vo.routes, `${vp}.routes`),
          dhcp: bool(vo.dhcp, `${vp}.dhcp`),
        };
        const mtu = int(vo.mtu, `${vp}.mtu`, 68, 65535);
        if (mtu !== undefined) vc.mtu = mtu;
        return vc;
      }),
    };
    const mtu = int(o.mtu, `${p}.mtu`, 68, 65535);
    if (mtu !== undefined) ic.mtu = mtu;
    if (o.bond !== undefined) {
      const b = obj(o.bond, `${p}.bond`);
      const mode = b.mode === undefined ? "active-backup" : str(b.mode, `${p}.bond.mode`);
      if (!(BOND_MODES as readonly string[]).includes(mode)) throw new ConfigError(`${p}.bond.mode`, `"${mode}" is not one of ${BOND_MODES.join(", ")}`);
      const members = arr(b.interfaces, `${p}.bond.interfaces`).map((m, j) => str(m, `${p}.bond.interfaces[${j}]`));
      if (members.length === 0) throw new ConfigError(`${p}.bond.interfaces`, "a bond needs at least one member");
      ic.bond = { interfaces: members, mode: mode as BondMode };
      const miimon = int(b.miimon, `${p}.bond.miimon`, 0, 0x7fffffff);
      if (miimon !== undefined) ic.bond.miimon = miimon;
    }
    cfg.interfaces.push(ic);
  });
  return cfg;
}

/** Reads a machine config file; YAML syntax errors carry line:column. */
export async function loadNetworkConfig(file: string): Promise<NetworkConfig> {
  const text = await Bun.file(file).text();
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const pos = e.linePos?.[0];
    throw new ConfigError(`${file}${pos ? `:${pos.line}:${pos.col}` : ""}`, e.message.split("\n")[0]!);
  }
  try {
    return networkConfigOf(doc.toJS());
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(file, e.message);
    throw e;
  }
}
