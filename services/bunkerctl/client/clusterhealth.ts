/**
 * `health` for a cluster: which nodes there are (control planes from the endpoint node's config,
 * workers from each control plane's trustd records, or both as given) and, for each in turn
 * until a deadline, the checks an operator means by "healthy": apid answers with a certificate of
 * the cluster CA (the call verifies it, directly or through the relay), MachineStatus is ready
 * (services up and healthy, network online, time synchronised, apid's certificate signed), the
 * clocks agree within a bound, and, where etcd runs, every control plane is a started voting
 * member, there is one leader, no alarm is raised, and all list the same members. Progress goes
 * through `say`, one line per change.
 */
import { MachineService as M, ResourceService as R } from "../../../core/api/gen/services.ts";
import { TRUSTD_NODES, type TrustdNodeSpec } from "../../../core/api/trustdstatus.ts";
import { TIME_STATUS, type TimeStatusSpec } from "../../../core/netresources/kinds.ts";
import { GrpcError, reasonOf, Status } from "../../../core/grpc/status.ts";
import { REASON } from "../../../core/errors.ts";
import type { Api, Destination } from "./api.ts";
import { describe, fatalWhileWaiting, machineStatus } from "./machinestatus.ts";
import { DEFAULT_API_PORT, normalizeEndpoint } from "./target.ts";

const MACHINE_CONFIG = { namespace: "config", type: "MachineConfigs.config.bunker.dev", id: "v1alpha1" };
const ETCD_STATUS = { namespace: "runtime", type: "EtcdStatuses.runtime.bunker.dev", id: "etcd" };
const ETCD_MEMBERS = { namespace: "runtime", type: "EtcdMembers.runtime.bunker.dev" };

interface EtcdStatus { phase: string; message: string; memberId?: string }
interface EtcdMember { id: string; name: string; learner: boolean; started: boolean; leader: boolean; alarms?: string[]; error?: string }

/**
 * What one control plane says of etcd: its own phase and the members it lists. "skipped" (no
 * etcd on this node) passes: a cluster without etcd has nothing to check there.
 */
async function etcdView(api: Api, d: Destination): Promise<{ status: EtcdStatus; members: EtcdMember[] }> {
  const st = await api.unary(R.Get, ETCD_STATUS, d, { timeoutMs: 5000 }).catch((e: unknown) => {
    // A node that publishes no etcd status runs no etcd.
    if (e instanceof GrpcError && e.code === Status.NOT_FOUND) return undefined;
    throw e;
  });
  if (!st) return { status: { phase: "skipped", message: "no etcd status" }, members: [] };
  const status = JSON.parse(st.resource?.specJson ?? "{}") as EtcdStatus;
  const list = await api.unary(R.List, ETCD_MEMBERS, d, { timeoutMs: 5000 });
  return { status, members: (list.resources ?? []).map((r) => JSON.parse(r.specJson ?? "{}") as EtcdMember) };
}

/** "id name" of the voting members, sorted: what every control plane must agree on. */
const memberKey = (ms: EtcdMember[]) => ms.filter((m) => !m.learner).map((m) => `${m.id} ${m.name}`).sort().join(", ");

export interface ClusterNodes { controlPlanes: string[]; workers: string[] }

export interface ClusterHealthOptions {
  api: Api;
  /** The endpoints to dial (the relay for every node). */
  endpoints: string[];
  deadline: number;
  /** Given with --control-plane-nodes / --worker-nodes: not discovered. */
  controlPlanes?: string[];
  workers?: string[];
  /** false: leave etcd out (a cluster created with --no-bootstrap, not bootstrapped yet). */
  etcd?: boolean;
  /** How far a node's clock may be from its time server (default 1 s). */
  maxOffsetMs?: number;
  say: (line: string) => void;
}

export class HealthTimeout extends Error {
  constructor(readonly missing: string[]) {
    super(`not healthy in time: ${missing.join("; ")}`);
  }
}

/** "10.5.0.2" for "10.5.0.2:50000", as the other commands print nodes. */
const label = (address: string) => {
  const n = normalizeEndpoint(address);
  return n.endsWith(`:${DEFAULT_API_PORT}`) ? n.slice(0, -String(DEFAULT_API_PORT).length - 1).replace(/^\[(.*)\]$/, "$1") : n;
};

const why = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Retries `fn` until it returns a value or the deadline passes; reports each new reason once. */
async function until<T>(what: string, deadline: number, say: (l: string) => void, fn: () => Promise<T | string>): Promise<T> {
  let last = "";
  for (;;) {
    let r: T | string;
    try { r = await fn(); } catch (e) {
      // A worker no control plane has signed for yet is not a member the relay accepts: it may
      // still join, so that is waited for, not fatal like other refusals.
      const joining = e instanceof GrpcError && e.code === Status.PERMISSION_DENIED && reasonOf(e) === REASON.notMember;
      if (fatalWhileWaiting(e) && !joining) throw e;
      r = why(e);
    }
    if (typeof r !== "string") return r;
    if (r !== last) say(`  ${what}: ${r}`);
    last = r;
    if (Date.now() >= deadline) throw new HealthTimeout([`${what}: ${r}`]);
    await Bun.sleep(Math.min(1000, Math.max(0, deadline - Date.now())));
  }
}

/**
 * The control planes the endpoint node's config lists (cluster.controlPlane.nodes), or undefined
 * when it lists none or cannot be read (a reader may not see the config; a lone node lists none).
 */
export async function configuredControlPlanes(api: Api, endpoints: string[]): Promise<string[] | undefined> {
  try {
    const res = await api.unary(R.Get, MACHINE_CONFIG, { label: endpoints[0]!, endpoints }, { timeoutMs: 5000 });
    const nodes = (JSON.parse(res.resource?.specJson ?? "{}") as { config?: { cluster?: { controlPlane?: { nodes?: string[] } } } }).config?.cluster?.controlPlane?.nodes;
    return nodes?.length ? nodes : undefined;
  } catch {
    return undefined;
  }
}

/** Workers: every node a control plane's trustd signed for and whose certificate is still valid. */
export async function discoverWorkers(api: Api, endpoints: string[], controlPlanes: string[]): Promise<string[]> {
  const found = new Set<string>();
  for (const cp of controlPlanes) {
    // A control plane that is down knows no one now; the others still answer for their workers.
    const res = await api.unary(R.List, { namespace: TRUSTD_NODES.namespace, type: TRUSTD_NODES.type }, { label: cp, node: cp, endpoints }, { timeoutMs: 5000 }).catch(() => undefined);
    for (const r of res?.resources ?? []) {
      const spec = JSON.parse(r.specJson ?? "{}") as TrustdNodeSpec;
      if (spec.address && new Date(spec.notAfter).getTime() > Date.now()) found.add(label(spec.address));
    }
  }
  return [...found].filter((w) => !controlPlanes.includes(w)).sort();
}

async function discover(o: ClusterHealthOptions): Promise<ClusterNodes> {
  const controlPlanes = o.controlPlanes ?? await until("control planes from the endpoint's config", o.deadline, o.say, async () =>
    (await configuredControlPlanes(o.api, o.endpoints)) ?? "the config lists no control planes (cluster.controlPlane.nodes)");
  return { controlPlanes, workers: o.workers ?? await discoverWorkers(o.api, o.endpoints, controlPlanes) };
}

/** Runs every check on every node; resolves when all pass, throws HealthTimeout naming what is missing. */
export async function checkCluster(o: ClusterHealthOptions): Promise<ClusterNodes> {
  o.say("discovering nodes");
  const nodes = await discover(o);
  o.say(`  control planes: ${nodes.controlPlanes.join(", ")}`);
  o.say(`  workers: ${nodes.workers.join(", ") || "(none)"}`);
  const all = [...nodes.controlPlanes, ...nodes.workers];
  const dest = (n: string): Destination => ({ label: n, node: n, endpoints: o.endpoints });
  const maxOffset = o.maxOffsetMs ?? 1000;
  const checks: { name: string; run: (n: string) => Promise<true | string> }[] = [
    { name: "apid answers with a certificate of the cluster CA", run: async (n) => { await o.api.unary(M.Version, {}, dest(n), { timeoutMs: 5000 }); return true; } },
    { name: "ready (services healthy, network online, time synchronised, certificate signed)", run: async (n) => {
      const s = await machineStatus(o.api, dest(n), 5000);
      return s.ready ? true : describe(s);
    } },
    { name: `clock within ${maxOffset} ms of its time server`, run: async (n) => {
      const res = await o.api.unary(R.Get, TIME_STATUS, dest(n), { timeoutMs: 5000 }).catch((e: unknown) => {
        // No networkd on the node, so no time status: its readiness does not wait for time either.
        if (e instanceof GrpcError && e.code === Status.NOT_FOUND) return undefined;
        throw e;
      });
      if (!res) return true;
      const t = JSON.parse(res.resource?.specJson ?? "{}") as TimeStatusSpec;
      // A container-mode node keeps the host's clock: the nodes share one and cannot drift apart.
      if (t.disabled) return true;
      if (!t.synced) return `not synchronised${t.lastError ? `: ${t.lastError}` : ""}`;
      return Math.abs(t.offsetMs ?? 0) <= maxOffset ? true : `offset ${t.offsetMs} ms`;
    } },
  ];
  // etcd, on control planes: every one a started voting member, one leader, no alarms, the same member list
  // everywhere. A node without etcd (its status "skipped") has nothing to check.
  if (o.etcd !== false) checks.push({ name: "etcd: every control plane a member, one leader, no alarms, the same members everywhere", run: async (n) => {
    if (!nodes.controlPlanes.includes(n)) return true;
    const v = await etcdView(o.api, dest(n));
    if (v.status.phase === "skipped") return true;
    if (v.status.phase !== "member") return `${v.status.phase}${v.status.message ? `: ${v.status.message}` : ""}${v.status.phase === "waiting" ? " (bunkerctl bootstrap -n ONE-CONTROL-PLANE starts it)" : ""}`;
    const me = v.members.find((m) => m.id === v.status.memberId);
    if (!me?.started || me.learner) return `member ${v.status.memberId} is ${me ? (me.learner ? "a learner" : "not started") : "not listed"} yet`;
    const leaders = v.members.filter((m) => m.leader);
    if (leaders.length !== 1) return `${leaders.length} leaders among ${v.members.length} members${v.members.some((m) => m.error) ? ` (${v.members.filter((m) => m.error).map((m) => `${m.name}: ${m.error}`).join("; ")})` : ""}`;
    const alarmed = v.members.filter((m) => m.alarms?.length);
    if (alarmed.length) return `etcd alarms: ${alarmed.map((m) => `${m.alarms!.join(",")} on ${m.name || m.id}`).join("; ")} (bunkerctl etcd alarm list; disarm once the cause is dealt with)`;
    // The others as they are now, not as they were when their own check passed.
    for (const cp of nodes.controlPlanes.filter((x) => x !== n)) {
      const other = await etcdView(o.api, dest(cp));
      if (other.status.phase === "skipped") continue;
      if (other.status.phase !== "member" || !v.members.some((m) => m.id === other.status.memberId)) return `does not list ${cp} as a member yet`;
      if (memberKey(other.members) !== memberKey(v.members)) return `lists members ${memberKey(v.members)}, ${cp} lists ${memberKey(other.members)}`;
    }
    return true;
  } });
  for (const c of checks) {
    o.say(`waiting for: ${c.name}`);
    const settled = await Promise.allSettled(all.map((n) => until(n, o.deadline, o.say, () => c.run(n))));
    const failed = settled.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
    const fatal = failed.find((e) => !(e instanceof HealthTimeout));
    if (fatal) throw fatal;
    if (failed.length) throw new HealthTimeout([`${c.name}: ${(failed as HealthTimeout[]).flatMap((e) => e.missing).join("; ")}`]);
    o.say(`  OK: ${all.length} nodes`);
  }
  return nodes;
}

/**
 * Starts etcd on the first control plane if the cluster runs etcd and has none yet, as
 * `talosctl cluster create` bootstraps: waits (until `deadline`) for the node to publish its
 * etcd status; returns what happened, in words.
 */
export async function bootstrapEtcd(api: Api, endpoints: string[], node: string, deadline: number): Promise<string> {
  const d: Destination = { label: node, node, endpoints };
  let last = "";
  while (Date.now() < deadline) {
    try {
      const { status } = await etcdView(api, d);
      if (status.phase === "skipped") return `etcd is not run on this cluster (${status.message || "skipped"})`;
      if (status.phase !== "waiting") return `etcd on ${node} is ${status.phase} already`;
      const r = await api.unary(M.Bootstrap, {}, d);
      return `etcd bootstrapped on ${node}: ${r.message}`;
    } catch (e) {
      last = why(e);
      await Bun.sleep(500);
    }
  }
  throw new HealthTimeout([`bootstrapping etcd on ${node}: ${last}`]);
}
