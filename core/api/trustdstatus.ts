/**
 * The resource trustd publishes into init's store (through the internal ResourcePublisher, as its
 * own uid): counts and the last signature and refusal, never the token or a key. init turns its
 * changes into machine events (source "trustd"). Names and shapes only.
 */
import type { Kind, Ref, ResourceDefinition } from "../resources/index.ts";

export const TRUSTD_STATUSES: Kind = { namespace: "runtime", type: "TrustdStatuses.runtime.bunker.dev" };
export const TRUSTD_STATUS: Ref = { ...TRUSTD_STATUSES, id: "trustd" };

export interface TrustdStatusSpec {
  listen: string;
  issued: number;
  refused: number;
  lastIssue?: { time: string; peer: string; commonName: string; sans: string[]; dropped: string[]; notAfter: string };
  lastRefusal?: { time: string; peer: string; reason: string };
}

/**
 * The nodes this trustd signed for, one per apid address (id "HOST:PORT": the address the request
 * came from and the apid port it gave): the cluster members a control plane learns of, so it can
 * relay to them. Kept while trustd runs; a node renewing replaces its entry.
 */
export const TRUSTD_NODES: Kind = { namespace: "runtime", type: "TrustdNodes.runtime.bunker.dev" };

export interface TrustdNodeSpec {
  /** HOST:PORT of the node's apid (IPv6 in brackets). */
  address: string;
  hostname: string;
  sans: string[];
  signedAt: string;
  notAfter: string;
}

export const TRUSTD_NODES_DEFINITION: ResourceDefinition = {
  ...TRUSTD_NODES, aliases: ["trustdnodes", "trustdnode", "joined"],
  columns: [{ name: "HOSTNAME", path: "spec.hostname" }, { name: "NOT-AFTER", path: "spec.notAfter" }],
};

export const TRUSTD_DEFINITION: ResourceDefinition = {
  ...TRUSTD_STATUSES, aliases: ["trustd", "trustdstatus"],
  columns: [{ name: "ISSUED", path: "spec.issued" }, { name: "REFUSED", path: "spec.refused" }],
};
