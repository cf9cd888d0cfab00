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

export const TRUSTD_DEFINITION: ResourceDefinition = {
  ...TRUSTD_STATUSES, aliases: ["trustd", "trustdstatus"],
  columns: [{ name: "ISSUED", path: "spec.issued" }, { name: "REFUSED", path: "spec.refused" }],
};
