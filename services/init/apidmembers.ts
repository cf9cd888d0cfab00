/**
 * The cluster members apid may relay calls to, as init hands them over: a file next to apid's
 * certificates (core/api/members.ts has the format), written before apid starts and again when
 * the config changes, then apid reads it on SIGHUP. Today the config is the only source; when
 * nodes publish their addresses, those entries join the same list.
 */
import { canonicalAddress, formatMembers, type MemberEntry } from "../../core/api/members.ts";
import { writeAtomic } from "./machine.ts";

/** The slice of a machine config this needs. */
export interface MembersConfig {
  cluster?: { controlPlane?: { endpoint?: string } };
}

/** Members the config names: the control plane's endpoint (host and port, as written). */
export function configMembers(config: MembersConfig | undefined, peerPort = 50000): MemberEntry[] {
  const endpoint = config?.cluster?.controlPlane?.endpoint;
  if (!endpoint) return [];
  let url: URL;
  try { url = new URL(endpoint); } catch { return []; }
  const address = canonicalAddress(`${url.hostname}:${url.port || peerPort}`, peerPort);
  return address ? [{ address, source: "cluster.controlPlane.endpoint" }] : [];
}

/** Writes the list (atomically; owned by apid when it runs as its own user). */
export function writeMembers(path: string, entries: readonly MemberEntry[], owner?: { uid: number; gid: number }): void {
  writeAtomic(path, formatMembers(entries), owner);
}
