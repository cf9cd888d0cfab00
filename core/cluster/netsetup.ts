/**
 * The cluster's network, made with iproute2: one namespace holding a bridge (the cluster's L2
 * segment, with the gateway address), and per node a namespace whose eth0 is one end of a veth
 * pair, the other end on the bridge. Nothing is attached to the host's own namespace, so the
 * nodes reach each other and nothing else.
 */
import type { ClusterPlan } from "./plan.ts";

export class NetError extends Error {}

function ip(args: string[], o: { allowFail?: boolean } = {}): string {
  const p = Bun.spawnSync(["ip", ...args], { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0 && !o.allowFail) throw new NetError(`ip ${args.join(" ")}: ${p.stderr.toString().trim() || `exit ${p.exitCode}`}`);
  return p.stdout.toString();
}

/** Names of the network namespaces that exist now. */
export function listNetns(): string[] {
  return ip(["netns", "list"], { allowFail: true }).split("\n").map((l) => l.split(" ")[0]!).filter((n) => n !== "");
}

/** Pids of every process in a namespace (`ip netns pids`). */
export function netnsPids(ns: string): number[] {
  return ip(["netns", "pids", ns], { allowFail: true }).split("\n").map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n > 0);
}

/**
 * Every namespace the plan names (the cluster's first). QEMU nodes are machines of their own:
 * their taps sit in the cluster's namespace, and they have none.
 */
export function planNamespaces(plan: ClusterPlan, provisioner: "container" | "qemu" = "container"): string[] {
  return provisioner === "qemu" ? [plan.netns] : [plan.netns, ...plan.nodes.map((n) => n.netns)];
}

/** The cluster's namespace with its bridge and the gateway address; refuses namespaces that exist. */
function makeBridge(plan: ClusterPlan, provisioner: "container" | "qemu"): void {
  const taken = new Set(listNetns());
  for (const ns of planNamespaces(plan, provisioner)) if (taken.has(ns)) throw new NetError(`network namespace ${ns} already exists (another cluster, or one not destroyed: bunkerctl cluster destroy --name ${plan.name})`);
  const c = plan.netns;
  ip(["netns", "add", c]);
  ip(["-n", c, "link", "set", "lo", "up"]);
  ip(["-n", c, "link", "add", "br0", "type", "bridge"]);
  ip(["-n", c, "addr", "add", `${plan.gateway}/${plan.prefix}`, "dev", "br0"]);
  ip(["-n", c, "link", "set", "br0", "up"]);
}

/** QEMU: the bridge, and per node a tap on it (named after the node's bridge port) for QEMU to open. */
export function makeTapNetwork(plan: ClusterPlan): void {
  makeBridge(plan, "qemu");
  for (const n of plan.nodes) {
    ip(["-n", plan.netns, "tuntap", "add", "dev", n.port, "mode", "tap"]);
    ip(["-n", plan.netns, "link", "set", n.port, "master", "br0", "up"]);
  }
}

/** Makes the bridge namespace and each node's namespace with its address. Throws at the first failure (destroy cleans up). */
export function makeNetwork(plan: ClusterPlan): void {
  makeBridge(plan, "container");
  const c = plan.netns;
  for (const n of plan.nodes) {
    ip(["netns", "add", n.netns]);
    ip(["-n", n.netns, "link", "set", "lo", "up"]);
    ip(["-n", c, "link", "add", n.port, "type", "veth", "peer", "name", "eth0", "netns", n.netns]);
    ip(["-n", c, "link", "set", n.port, "master", "br0", "up"]);
    // Addressed before init starts, as a container runtime does: apid's first certificate already
    // names it. networkd then finds the same address in the node's config and keeps it.
    ip(["-n", n.netns, "addr", "add", `${n.address}/${plan.prefix}`, "dev", "eth0"]);
    ip(["-n", n.netns, "link", "set", "eth0", "up"]);
  }
}

/** Deletes a namespace (its links go with it). */
export function deleteNetns(ns: string): void {
  ip(["netns", "del", ns], { allowFail: true });
}
