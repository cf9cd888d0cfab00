/** Where this node's etcd is reached and whom it asks to join: addresses, URLs, --initial-cluster. */
import type { EtcdMember } from "../../../core/etcd/client.ts";
import { parseIP } from "../../../core/ip/ip.ts";
import type { EtcdConfig } from "./config.ts";

const isLoopback = (a: string) => a === "::1" || a.startsWith("127.");
const isLinkLocal = (a: string) => a.toLowerCase().startsWith("fe80:") || a.startsWith("169.254.");

/**
 * The address this node's etcd advertises: its own address among cluster.controlPlane.nodes,
 * else its first global IPv4 address, else any global one, else loopback (a lone host test).
 */
export function ownAddress(config: EtcdConfig | undefined, addresses: string[]): string {
  const mine = new Set(addresses);
  const named = (config?.cluster?.controlPlane?.nodes ?? []).find((n) => mine.has(n));
  if (named) return named;
  const global = addresses.filter((a) => !isLoopback(a) && !isLinkLocal(a));
  return global.find((a) => parseIP(a)?.family === 4) ?? global[0] ?? "127.0.0.1";
}

/** The other control planes to ask for a member: cluster.controlPlane.nodes and the endpoint's host, without this node. */
export function joinCandidates(config: EtcdConfig | undefined, addresses: string[]): string[] {
  const out: string[] = [];
  const mine = new Set(addresses);
  for (const n of config?.cluster?.controlPlane?.nodes ?? []) if (!mine.has(n) && !out.includes(n)) out.push(n);
  try {
    const e = config?.cluster?.controlPlane?.endpoint;
    const host = e ? new URL(e).hostname.replace(/^\[(.*)\]$/, "$1") : undefined;
    if (host && !mine.has(host) && !out.includes(host) && host !== "localhost") out.push(host);
  } catch { /* validation reports a bad endpoint */ }
  return out;
}

/** etcd's --initial-cluster for a node joining `members` (as etcdctl member add prints it: unstarted members have no name yet). */
export function initialCluster(members: EtcdMember[], self: { id: string; name: string }): string {
  return members.flatMap((m) => m.peerURLs.map((u) => `${m.id === self.id ? self.name : m.name}=${u}`)).join(",");
}
