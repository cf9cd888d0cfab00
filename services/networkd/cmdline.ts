/**
 * The kernel command line's `ip=` (Documentation/admin-guide/nfs/nfsroot.rst):
 *   ip=<client-ip>:<server-ip>:<gw-ip>:<netmask>:<hostname>:<device>:<autoconf>:<dns0>:<dns1>:<ntp0>
 * or simply ip=dhcp / ip=on / ip=any (DHCP on every link) and ip=off / ip=none.
 */
import { isIp, maskToPrefix, parseIp } from "../../core/netlink/ip.ts";

export interface CmdlineNetwork {
  /** DHCP on every physical link (ip=dhcp with no device). */
  dhcpAll?: boolean;
  /** ip=off/none: the cmdline says nothing. */
  off?: boolean;
  device?: string;
  address?: string; // CIDR
  gateway?: string;
  hostname?: string;
  dhcp?: boolean;
  dns: string[];
  ntp: string[];
}

export class CmdlineError extends Error {
  constructor(value: string, why: string) {
    super(`kernel command line ip=${value}: ${why}`);
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
  for (const [name, v] of [["client-ip", client], ["gw-ip", gw], ["netmask", mask], ["dns0", dns0], ["dns1", dns1], ["ntp0", ntp0]] as const) {
    if (v && !isIp(v)) throw new CmdlineError(value, `${name} "${v}" is not an IP address`);
  }
  if (device) out.device = device;
  if (hostname) out.hostname = hostname;
  if (client) {
    let prefix = 24;
    if (mask) {
      try {
        prefix = maskToPrefix(parseIp(mask).bytes);
      } catch (e) {
        throw new CmdlineError(value, (e as Error).message);
      }
    }
    out.address = `${client}/${prefix}`;
  }
  if (gw) out.gateway = gw;
  if (["dhcp", "on", "any"].includes(autoconf) || (!client && autoconf === "")) out.dhcp = true;
  out.dns = [dns0, dns1].filter(Boolean);
  out.ntp = [ntp0].filter(Boolean);
  return out;
}
