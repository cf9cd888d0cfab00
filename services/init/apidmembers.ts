/**
 * The cluster members apid may relay calls to, as init hands them over: a file next to apid's
 * certificates (core/api/members.ts has the format), written before apid starts and again when
 * the config changes or a node joins, then apid reads it on SIGHUP. Two sources: the config (the
 * control plane's endpoint) and, on a control plane, the workers its trustd signed a certificate
 * for (they proved the join token; services/init/trustd.ts joinedNodes).
 */
import { canonicalAddress, formatMembers, type MemberEntry } from "../../core/api/members.ts";
import { writeAtomic } from "../../core/fileio/atomic.ts";

/** The slice of a machine config this needs. */
export interface MembersConfig {
  cluster?: { controlPlane?: { endpoint?: string; nodes?: string[] } };
}

/**
 * Members the config names: the control plane's endpoint (host and port, as written) and every
 * control-plane node of cluster.controlPlane.nodes (at apid's port).
 */
export function configMembers(config: MembersConfig | undefined, peerPort = 50000): MemberEntry[] {
  const out: MemberEntry[] = [];
  const endpoint = config?.cluster?.controlPlane?.endpoint;
  let url: URL | undefined;
  try { url = endpoint ? new URL(endpoint) : undefined; } catch { /* validation names a bad endpoint */ }
  const fromEndpoint = url && canonicalAddress(`${url.hostname}:${url.port || peerPort}`, peerPort);
  if (fromEndpoint) out.push({ address: fromEndpoint, source: "cluster.controlPlane.endpoint" });
  for (const host of config?.cluster?.controlPlane?.nodes ?? []) {
    const address = canonicalAddress(host.includes(":") && !host.startsWith("[") ? `[${host}]:${peerPort}` : `${host}:${peerPort}`, peerPort);
    if (address && !out.some((m) => m.address === address)) out.push({ address, source: "cluster.controlPlane.nodes" });
  }
  return out;
}

/** Writes the list (atomically; owned by apid when it runs as its own user). */
export function writeMembers(path: string, entries: readonly MemberEntry[], owner?: { uid: number; gid: number }): void {
  writeAtomic(path, formatMembers(entries), owner);
}

/** Members that joined through this node's trustd (their apid address, PEER:API_PORT). */
export function joinedMembers(addresses: readonly string[], peerPort = 50000): MemberEntry[] {
  const out: MemberEntry[] = [];
  for (const a of addresses) {
    const address = canonicalAddress(a, peerPort);
    if (address) out.push({ address, source: "trustd" });
  }
  return out;
}
