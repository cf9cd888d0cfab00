/**
 * The one rule for the node's name: machine.network.hostname, else a DHCP lease's, else the
 * kernel command line's, else a default. init applies it on a node (the config's name from its
 * MachineConfig, the DHCP and cmdline names from networkd's HostnameSpec, its own default);
 * networkd alone (--config, outside init) applies it with its own inputs.
 */

export type HostnameSource = "config" | "dhcp" | "cmdline" | "default";

export interface HostnameChoice { hostname: string; domain?: string; source: HostnameSource }

export interface HostnameCandidates {
  /** machine.network.hostname, FQDN or not. */
  config?: string;
  dhcp?: { name: string; domain?: string };
  cmdline?: string;
  /** The name when no one gives one: a value that never changes while the node runs. */
  fallback: string;
}

export function pickHostname(c: HostnameCandidates): HostnameChoice {
  if (c.config) return { ...splitFqdn(c.config), source: "config" };
  if (c.dhcp?.name) return { ...splitFqdn(c.dhcp.name, c.dhcp.domain), source: "dhcp" };
  if (c.cmdline) return { ...splitFqdn(c.cmdline), source: "cmdline" };
  return { hostname: c.fallback, source: "default" };
}

function splitFqdn(name: string, domain?: string): { hostname: string; domain?: string } {
  const dot = name.indexOf(".");
  if (dot > 0) return { hostname: name.slice(0, dot), domain: name.slice(dot + 1) };
  return domain ? { hostname: name, domain } : { hostname: name };
}
