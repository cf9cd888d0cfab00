/**
 * The layout of a local cluster before anything is made: each node's name, role and address on
 * the cluster's private network, and the names of the network namespaces that hold them. Pure:
 * `cluster create` makes what this describes, `cluster destroy` removes what it names.
 */
import { formatCIDR, formatIP, hasHostBits, networkOf, parseCIDR, type CIDR } from "../ip/ip.ts";

export type Role = "controlplane" | "worker";

export interface PlannedNode {
  /** "NAME-controlplane-1", "NAME-worker-1": its hostname too. */
  name: string;
  role: Role;
  /** Its address on the cluster network (no prefix). */
  address: string;
  /** Its network namespace (/run/netns/...). */
  netns: string;
  /** Its end of the veth pair inside the cluster namespace (attached to the bridge). */
  port: string;
}

export interface ClusterPlan {
  name: string;
  /** The cluster network, e.g. 10.5.0.0/24. */
  cidr: string;
  prefix: number;
  /** The bridge's address: .1 of the network. */
  gateway: string;
  /** The namespace that holds the bridge (the cluster's L2 network) and the host's way in. */
  netns: string;
  nodes: PlannedNode[];
}

export interface PlanInput { name: string; cidr: string; controlplanes: number; workers: number }

/** A cluster name that fits a namespace and a host name: what gen config accepts, shorter. */
export const CLUSTER_NAME = /^[a-z0-9]([a-z0-9-]{0,22}[a-z0-9])?$/;

export class PlanError extends Error {}

/** Offset `n` from the network address: 10.5.0.0/24 + 2 -> 10.5.0.2. */
function nth(net: CIDR, n: number): string {
  const b = new Uint8Array(net.ip.bytes);
  let carry = n;
  for (let i = b.length - 1; i >= 0 && carry > 0; i--) {
    const sum = b[i]! + carry;
    b[i] = sum & 0xff;
    carry = sum >> 8;
  }
  return formatIP({ family: net.ip.family, bytes: b });
}

export function planCluster(i: PlanInput): ClusterPlan {
  if (!CLUSTER_NAME.test(i.name)) throw new PlanError(`--name ${JSON.stringify(i.name)}: use 1-24 lower-case letters, digits or inner "-"`);
  if (!Number.isInteger(i.controlplanes) || i.controlplanes < 1 || i.controlplanes > 9) throw new PlanError(`--controlplanes ${i.controlplanes}: expected 1 to 9`);
  if (!Number.isInteger(i.workers) || i.workers < 0 || i.workers > 50) throw new PlanError(`--workers ${i.workers}: expected 0 to 50`);
  const net = parseCIDR(i.cidr);
  if (!net || net.ip.family !== 4) throw new PlanError(`--cidr ${JSON.stringify(i.cidr)}: expected an IPv4 network such as 10.5.0.0/24`);
  if (hasHostBits(net)) throw new PlanError(`--cidr ${i.cidr}: host bits are set (the network is ${formatCIDR(networkOf(net))}?)`);
  // .0 network, .1 the bridge, nodes from .2, and the broadcast address left alone.
  const room = 2 ** (32 - net.prefix) - 3;
  const count = i.controlplanes + i.workers;
  if (count > room) throw new PlanError(`--cidr ${i.cidr}: room for ${Math.max(room, 0)} nodes, ${count} asked`);
  const netns = `bunker-${i.name}`;
  const nodes: PlannedNode[] = [];
  for (let k = 0; k < count; k++) {
    const role: Role = k < i.controlplanes ? "controlplane" : "worker";
    const index = role === "controlplane" ? k + 1 : k - i.controlplanes + 1;
    const short = `${role === "controlplane" ? "cp" : "w"}${index}`;
    nodes.push({ name: `${i.name}-${role}-${index}`, role, address: nth(net, k + 2), netns: `${netns}-${short}`, port: short });
  }
  return { name: i.name, cidr: i.cidr, prefix: net.prefix, gateway: nth(net, 1), netns, nodes };
}
