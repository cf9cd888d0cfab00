/**
 * Removing a local cluster, whatever state it is in: every process in the cluster's namespaces
 * (init and the services it started, found with `ip netns pids`, so a crashed `create` or a dead
 * init leaves none behind), the forwarder, the namespaces, the folder. Works from state.json, and
 * without it from the namespace names alone.
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { deleteNetns, listNetns, netnsPids, planNamespaces } from "./netsetup.ts";
import { loadState } from "./state.ts";
import { pidAlive } from "../sys/process.ts";

/** SIGTERM first (init stops its services in order), SIGKILL what is left after `graceMs`. */
const GRACE_MS = 20_000;

/** The command line of a pid, "" when it is gone: a recorded pid is signalled only while it is still ours. */
function cmdline(pid: number): string {
  try { return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " "); } catch { return ""; }
}

function signal(pids: number[], sig: NodeJS.Signals): void {
  for (const p of pids) { try { process.kill(p, sig); } catch { /* gone already */ } }
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) { if (cond()) return true; await Bun.sleep(100); }
  return cond();
}

export interface DestroyReport { namespaces: string[]; killed: number; forcedKill: boolean }

export async function destroyCluster(dir: string, name: string, o: { graceMs?: number; step?: (line: string) => void } = {}): Promise<DestroyReport> {
  const step = o.step ?? (() => undefined);
  const state = loadState(dir);
  const pattern = new RegExp(`^bunker-${name.replace(/[^a-z0-9-]/g, "")}(-(cp|w)[0-9]+)?$`);
  const existing = new Set(listNetns());
  const namespaces = (state ? planNamespaces(state.plan, state.provisioner) : [...existing].filter((n) => pattern.test(n))).filter((n) => existing.has(n));
  const forwarder = state?.forwarder?.pid;
  const pids = () => {
    const inNs = namespaces.flatMap(netnsPids);
    const fwd = forwarder && cmdline(forwarder).includes(`cluster forward --netns ${state!.plan.netns}`) ? [forwarder] : [];
    return [...new Set([...inNs, ...fwd])].filter(pidAlive);
  };
  // init stops its own services in order on SIGTERM: signal only the inits (and the forwarder)
  // when they are known, everything when state.json is gone.
  const inits = (state?.nodes ?? []).map((n) => n.pid ?? 0).filter((p) => p > 0 && pidAlive(p) && /init --mode=container|qemu-system/.test(cmdline(p)));
  // The cluster's own namespace holds no init: QEMU and the DHCP server there stop on SIGTERM.
  const first = state ? [...inits, ...pids().filter((p) => p === forwarder), ...netnsPids(state.plan.netns)] : pids();
  const all = pids();
  if (all.length) step(`stopping ${all.length} processes`);
  signal(first.length ? first : all, "SIGTERM");
  let forcedKill = false;
  if (!(await until(() => pids().length === 0, o.graceMs ?? GRACE_MS))) {
    forcedKill = true;
    const left = pids();
    step(`${left.length} processes still running after ${(o.graceMs ?? GRACE_MS) / 1000} s: SIGKILL`);
    signal(left, "SIGKILL");
    await until(() => pids().length === 0, 5_000);
  }
  for (const ns of namespaces.reverse()) deleteNetns(ns);
  if (namespaces.length) step(`deleted network namespaces ${namespaces.join(", ")}`);
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  step(`removed ${dir}`);
  return { namespaces, killed: all.length, forcedKill };
}
