/**
 * The members of the cluster that apid may relay a call to (metadata `node`). init writes the
 * list into a file apid reads at start and on SIGHUP; today its entries come from the machine
 * config (cluster.controlPlane.endpoint), and sources added later (addresses nodes publish about
 * themselves) only add lines. Addresses are compared in one canonical spelling, so the check is a
 * string lookup made before apid opens any connection: a name that is not on the list is never
 * dialled, resolved or probed.
 *
 * File format: one `HOST:PORT` a line (IPv6 in brackets); text after `#` is a comment (init
 * writes where each entry came from there); blank lines are ignored.
 */
import net from "node:net";

/** DNS name labels: letters, digits, hyphens inside; 63 bytes each, 253 in all. */
const DNS_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/**
 * `HOST`, `HOST:PORT`, `[IPV6]:PORT` or a bare IPv6 address as `host:port` in one spelling:
 * names in lower case without a trailing dot, IPv6 compressed and in brackets, the port in
 * decimal (`defaultPort` when none is given). Undefined when it is none of these.
 */
export function canonicalAddress(s: string, defaultPort: number): string | undefined {
  let host: string;
  let port: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (bracketed) [, host, port] = bracketed as unknown as [string, string, string | undefined];
  else if (net.isIPv6(s)) host = s;
  else {
    const m = /^([^:]+)(?::(\d+))?$/.exec(s);
    if (!m) return undefined;
    [, host, port] = m as unknown as [string, string, string | undefined];
  }
  const p = port === undefined ? defaultPort : /^\d{1,5}$/.test(port) ? Number(port) : NaN;
  if (!(Number.isInteger(p) && p > 0 && p < 65536)) return undefined;
  if (net.isIPv6(host)) {
    if (host.includes("%")) return undefined; // a zone names a link of this machine, not a node
    return `${new URL(`http://[${host}]/`).hostname}:${p}`;
  }
  if (bracketed) return undefined;
  if (net.isIPv4(host)) return `${host}:${p}`;
  const name = host.toLowerCase().replace(/\.$/, "");
  return DNS_NAME.test(name) && !/^[\d.]+$/.test(name) ? `${name}:${p}` : undefined;
}

export interface MemberEntry {
  /** HOST:PORT, canonical. */
  address: string;
  /** Where it came from, e.g. "cluster.controlPlane.endpoint" (a comment in the file). */
  source: string;
}

/** The list as apid reads it: canonical addresses, each once; errors name the line. */
export function parseMembers(text: string, where: string, defaultPort = 50000): string[] {
  const out = new Set<string>();
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/#.*$/, "").trim();
    if (!line) return;
    const a = canonicalAddress(line, defaultPort);
    if (!a) throw new Error(`${where}:${i + 1}: ${JSON.stringify(line.slice(0, 100))} is not HOST:PORT`);
    out.add(a);
  });
  return [...out];
}

/** The file init writes: a header, then one line per address (the first source of each). */
export function formatMembers(entries: readonly MemberEntry[]): string {
  const seen = new Set<string>();
  const lines = ["# Cluster members apid may relay calls to (metadata `node`); written by init."];
  for (const e of entries) {
    if (seen.has(e.address)) continue;
    seen.add(e.address);
    lines.push(`${e.address} # ${e.source.replace(/[\r\n]/g, " ")}`);
  }
  return `${lines.join("\n")}\n`;
}
