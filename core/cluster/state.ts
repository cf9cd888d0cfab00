/**
 * A local cluster's folder: DIR/NAME/ holds state.json (what was made: the plan, the processes,
 * the forwarded ports), the generated configs, the client config, and per node its state
 * directory and console log. state.json is written before anything is made and after each step,
 * so `cluster destroy` finds everything even after a crash in the middle of `create`.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../fileio/atomic.ts";
import type { ClusterPlan } from "./plan.ts";

export type Provisioner = "container" | "qemu";

export interface NodeState {
  name: string;
  /** init's pid (container) or QEMU's (qemu). */
  pid?: number;
}

export interface ClusterState {
  provisioner: Provisioner;
  plan: ClusterPlan;
  createdAt: string;
  nodes: NodeState[];
  /** The port forwarder: its pid and, per control plane (by name), the port on 127.0.0.1. */
  forwarder?: { pid?: number; ports: Record<string, number> };
}

/**
 * Where clusters live unless --state or $BUNKER_CLUSTERS says otherwise. Not under a home
 * directory: the nodes' services run as their own uids and must be able to reach their folders,
 * which a 0700 home forbids.
 */
export function defaultStateRoot(env: Record<string, string | undefined> = process.env): string {
  return env.BUNKER_CLUSTERS && env.BUNKER_CLUSTERS.trim() !== "" ? env.BUNKER_CLUSTERS : "/var/lib/bunker/clusters";
}

export const statePath = (dir: string) => join(dir, "state.json");

export function saveState(dir: string, s: ClusterState): void {
  writeFileAtomic(statePath(dir), `${JSON.stringify(s, null, 2)}\n`, { mode: 0o600, overwrite: true });
}

/** The state of the cluster in `dir`; undefined when there is none (or it does not parse). */
export function loadState(dir: string): ClusterState | undefined {
  if (!existsSync(statePath(dir))) return undefined;
  try {
    const s = JSON.parse(readFileSync(statePath(dir), "utf8")) as ClusterState;
    return s && typeof s === "object" && s.plan && Array.isArray(s.nodes) ? s : undefined;
  } catch {
    return undefined;
  }
}
