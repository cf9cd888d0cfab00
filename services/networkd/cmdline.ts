/**
 * The kernel command line's network words, so a node that boots over the network can reach its
 * config before it has one:
 * - `ip=` (Documentation/admin-guide/nfs/nfsroot.rst):
 *   ip=<client-ip>:<server-ip>:<gw-ip>:<netmask>:<hostname>:<device>:<autoconf>:<dns0>:<dns1>:<ntp0>
 *   or simply ip=dhcp / ip=on / ip=any (DHCP on every link) and ip=off / ip=none;
 * - `bond=<name>[:<members>[:<options>[:<mtu>]]]` and `vlan=<name>:<parent>` as dracut.cmdline(7)
 *   writes them (Talos reads the same), e.g. `bond=bond0:eth0,eth1:mode=802.3ad,miimon=100:9000`
 *   and `vlan=bond0.100:bond0`; `ip=` may then name the bond or the VLAN as its device.
 */
import { BOND_MODES, type BondMode } from "../../core/netlink/consts.ts";
import { maskToPrefix, parseIP, type CIDR, type IP } from "../../core/ip/ip.ts";

export interface CmdlineNetwork {
  /** DHCP on every physical link (ip=dhcp with no device). */
  dhcpAll?: boolean;
  /** ip=off/none: the cmdline says nothing. */
  off?: boolean;
  device?: string;
  address?: CIDR;
  gateway?: IP;
  hostname?: string;
  dhcp?: boolean;
  dns: string[];
  ntp: string[];
}

export class CmdlineError extends Error {
  constructor(value: string, why: string, key = "ip") {
    super(`kernel command line ${key}=${value}: ${why}`);
    this.name = "CmdlineError";
  }
}

/** The `ip=` of a command line, or undefined when there is none. The last `ip=` wins, as in the kernel. */
export function parseIpArg(cmdline: string): CmdlineNetwork | undefined {
  const words = cmdline.trim().split(/\s+/).filter((w) => w.startsWith("ip="));
  const last = words.at(-1);
  if (!last) return undefined;
  const value = last.slice(3);
  if (["dhcp", "on", "any", "both", "bootp", "rarp"].includes(value)) return { dhcpAll: true, dns: [], ntp: [] };
  if (["off", "none"].includes(value)) return { off: true, dns: [], ntp: [] };
  const f = value.split(":");
  const [client = "", , gw = "", mask = "", hostname = "", device = "", autoconf = "", dns0 = "", dns1 = "", ntp0 = ""] = f;
  const out: CmdlineNetwork = { dns: [], ntp: [] };
  const ip = (name: string, v: string): IP | undefined => {
    if (!v) return undefined;
    const parsed = parseIP(v);
    if (!parsed) throw new CmdlineError(value, `${name} "${v}" is not an IP address`);
    return parsed;
  };
  const clientIP = ip("client-ip", client), gwIP = ip("gw-ip", gw), maskIP = ip("netmask", mask);
  for (const [name, v] of [["dns0", dns0], ["dns1", dns1], ["ntp0", ntp0]] as const) ip(name, v);
  if (device) out.device = device;
  if (hostname) out.hostname = hostname;
  if (clientIP) {
    let prefix = 24;
    if (maskIP) {
      try {
        prefix = maskToPrefix(maskIP.bytes);
      } catch (e) {
        throw new CmdlineError(value, (e as Error).message);
      }
    }
    out.address = { ip: clientIP, prefix };
  }
  if (gwIP) out.gateway = gwIP;
  if (["dhcp", "on", "any"].includes(autoconf) || (!client && autoconf === "")) out.dhcp = true;
  out.dns = [dns0, dns1].filter(Boolean);
  out.ntp = [ntp0].filter(Boolean);
  return out;
}

export interface CmdlineBond {
  name: string;
  members: string[];
  mode: BondMode;
  miimon?: number;
  mtu?: number;
}

export interface CmdlineVlan {
  name: string;
  parent: string;
  id: number;
}

/** The bonds and VLANs of a command line; `warnings` names options that were left out. */
export interface CmdlineLinks {
  bonds: CmdlineBond[];
  vlans: CmdlineVlan[];
  warnings: string[];
}

const IFNAME = /^[A-Za-z0-9_.:-]{1,15}$/;

/** Every `bond=` and `vlan=` of a command line, in order. Throws CmdlineError naming the word. */
export function parseLinkArgs(cmdline: string): CmdlineLinks {
  const out: CmdlineLinks = { bonds: [], vlans: [], warnings: [] };
  const seen = new Set<string>();
  for (const w of cmdline.trim().split(/\s+/)) {
    const key = w.slice(0, 5);
    if (key !== "bond=" && key !== "vlan=") continue;
    const link = key === "bond=" ? parseBond(w.slice(5), out.warnings) : parseVlan(w.slice(5));
    if (seen.has(link.name)) throw new CmdlineError(w.slice(5), `a link named ${link.name} is already defined by an earlier bond= or vlan=`, key.slice(0, 4));
    seen.add(link.name);
    if ("members" in link) out.bonds.push(link);
    else out.vlans.push(link);
  }
  return out;
}

function parseBond(value: string, warnings: string[]): CmdlineBond {
  const fail = (why: string): never => { throw new CmdlineError(value, why, "bond"); };
  // dracut's defaults: bond0 of eth0 and eth1, round robin.
  const [given = "", givenMembers = "", options = "", mtu = ""] = value.split(":");
  const name = given || "bond0";
  const members = givenMembers || "eth0,eth1";
  if (!IFNAME.test(name)) fail(`"${name}" is not a link name (1-15 letters, digits, . _ - :)`);
  const bond: CmdlineBond = { name, members: members.split(",").filter(Boolean), mode: "balance-rr" };
  if (bond.members.length === 0) fail("a bond needs at least one member link");
  for (const m of bond.members) if (!IFNAME.test(m) || m === name) fail(`member "${m}" is not a link name`);
  for (const opt of options.split(",").filter(Boolean)) {
    const [k = "", v = ""] = opt.split("=");
    if (k === "mode") {
      const byNumber = /^\d$/.test(v) ? BOND_MODES[Number(v)] : undefined;
      const mode = byNumber ?? BOND_MODES.find((m) => m === v);
      if (!mode) fail(`mode "${v}" is not one of ${BOND_MODES.join(", ")} (or 0-6)`);
      bond.mode = mode!;
    } else if (k === "miimon") {
      if (!/^\d+$/.test(v)) fail(`miimon "${v}" is not a number of milliseconds`);
      bond.miimon = Number(v);
    } else {
      // Not fatal: the bond still carries traffic with the kernel's default for it.
      warnings.push(`kernel command line bond=${value}: option ${k} is not supported (mode and miimon are); the kernel's default applies`);
    }
  }
  if (mtu) {
    if (!/^\d+$/.test(mtu) || Number(mtu) < 68 || Number(mtu) > 65535) fail(`MTU "${mtu}" is not a number from 68 to 65535`);
    bond.mtu = Number(mtu);
  }
  return bond;
}

function parseVlan(value: string): CmdlineVlan {
  const fail = (why: string): never => { throw new CmdlineError(value, why, "vlan"); };
  const [name = "", parent = "", ...rest] = value.split(":");
  if (rest.length || !parent) fail("expected vlan=<name>:<parent link>, e.g. vlan=eth0.100:eth0");
  if (!IFNAME.test(name)) fail(`"${name}" is not a link name (1-15 letters, digits, . _ - :)`);
  if (!IFNAME.test(parent)) fail(`parent "${parent}" is not a link name`);
  // dracut's four name forms: vlan0005, vlan5, eth0.0005, eth0.5.
  const digits = name.match(/^vlan(\d+)$/)?.[1] ?? name.match(/\.(\d+)$/)?.[1];
  if (digits === undefined) fail(`cannot read a VLAN id from the name "${name}": name it vlan<ID> or <parent>.<ID>`);
  const id = Number(digits);
  if (id < 1 || id > 4094) fail(`VLAN id ${id} is outside 1-4094`);
  return { name, parent, id };
}
