/**
 * The container provisioner: each node is `bunker init --mode=container` in its own network
 * namespace (core/cluster/netsetup.ts), started detached so it outlives `cluster create`, its
 * console (stdout and stderr) in nodes/NAME/console.log. A forwarder (`bunkerctl cluster
 * forward`, also detached) gives the host 127.0.0.1 ports onto the control planes' apid.
 */
import { spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect, createServer } from "node:net";
import { makeNetwork } from "./netsetup.ts";
import { parseStat } from "../procfs/processes.ts";
import type { NodeConfigs } from "./configs.ts";
import { saveState, type ClusterState } from "./state.ts";

export const API_PORT = 50000;
export const TRUSTD_PORT = 50001;

export const nodeDir = (dir: string, name: string) => join(dir, "nodes", name);
export const consoleLog = (dir: string, name: string) => join(nodeDir(dir, name), "console.log");

/** Starts `argv` in its own session, detached from this process, output appended to `log`; returns its pid. */
export function spawnDetached(argv: string[], log: string): number {
  const fd = openSync(log, "a", 0o600);
  try {
    const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ["ignore", fd, fd] });
    if (child.pid === undefined) throw new Error(`could not start ${argv[0]}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** A port free on 127.0.0.1 now (the forwarder binds it a moment later). */
export async function freeLoopbackPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r, j) => { s.once("error", j); s.listen(0, "127.0.0.1", () => r()); });
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * Whether 127.0.0.1:port accepts a connection within `ms` (polled every 50 ms); gives up at once
 * when `alive` says the process that should listen there has ended.
 */
export async function acceptsWithin(port: number, ms: number, alive: () => boolean = () => true): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end && alive()) {
    const ok = await new Promise<boolean>((r) => {
      const c = connect(port, "127.0.0.1");
      c.once("connect", () => { c.destroy(); r(true); });
      c.once("error", () => r(false));
    });
    if (ok) return true;
    await Bun.sleep(50);
  }
  return false;
}

export interface Provision {
  dir: string;
  state: ClusterState;
  configs: NodeConfigs;
  /** How to run this binary (init's and the forwarder's argv start with it). */
  self: string[];
  /** Progress, one line per step. */
  step?: (line: string) => void;
}

/** Makes the network, starts every node and the forwarder; state.json follows each step. */
export async function createContainerCluster(c: Provision): Promise<void> {
  const { dir, state } = c;
  const plan = state.plan;
  const step = c.step ?? (() => undefined);
  step(`network ${plan.cidr}: bridge in namespace ${plan.netns}, gateway ${plan.gateway}`);
  makeNetwork(plan);
  for (const n of plan.nodes) {
    const nd = nodeDir(dir, n.name);
    // Traversable: apid, trustd and networkd run as their own uids under init's state dir. The
    // config (CA keys on control planes) stays root's alone.
    mkdirSync(join(nd, "state"), { recursive: true, mode: 0o711 });
    writeFileSync(join(nd, "config.yaml"), c.configs.byNode.get(n.name)!, { mode: 0o600 });
    const pid = startContainerNode(dir, state, n.name, c.self);
    step(`${n.name} (${n.role}) at ${n.address}: init started, pid ${pid}`);
  }
  await startForwarder(c, plan.nodes.filter((x) => x.role === "controlplane"));
}

/**
 * Starts one node's init (detached) in its namespace, with its state dir and config as they are:
 * at create, and again for a node whose init ended (a reboot or power-off ends init in container
 * mode). Its pid goes into state.json, so destroy finds it; returns the pid.
 */
export function startContainerNode(dir: string, state: ClusterState, name: string, self: string[]): number {
  const n = state.plan.nodes.find((x) => x.name === name);
  if (!n) throw new Error(`no node ${name} in the cluster (nodes: ${state.plan.nodes.map((x) => x.name).join(", ")})`);
  const nd = nodeDir(dir, n.name);
  const argv = ["ip", "netns", "exec", n.netns, ...self, "init", "--mode=container", "--manage-network", "--state-dir", join(nd, "state"), "--config", join(nd, "config.yaml"),
    "--api-listen", `0.0.0.0:${API_PORT}`, ...(n.role === "controlplane" ? ["--trustd-listen", `0.0.0.0:${TRUSTD_PORT}`] : [])];
  const pid = spawnDetached(argv, consoleLog(dir, n.name));
  const known = state.nodes.find((x) => x.name === n.name);
  if (known) known.pid = pid;
  else state.nodes.push({ name: n.name, pid });
  saveState(dir, state);
  return pid;
}

/** How long the forwarder may take to listen: a Bun start, which on a host busy with booting VMs has taken seconds. */
const FORWARDER_START_MS = 60_000;
/** Starts of the forwarder that ended before listening (a port taken in the meantime) before create gives up. */
const FORWARDER_TRIES = 3;

/** Whether `pid` is still running (not gone, not a zombie waiting to be reaped). */
function running(pid: number): boolean {
  try {
    return !["Z", "X"].includes(parseStat(readFileSync(`/proc/${pid}/stat`, "utf8")).state);
  } catch {
    return false;
  }
}

/** The last lines of a log file, for an error message. */
function tail(file: string, lines = 5): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

/**
 * Starts the forwarder (detached) with a 127.0.0.1 port for each of `nodes`' apid, records it in
 * state.json, and waits until it listens. The ports are free when picked, but another program may
 * take one before the forwarder binds it: a forwarder that ends before it listens is started
 * again on new ports.
 */
export async function startForwarder(c: Provision, nodes: { name: string; address: string }[]): Promise<void> {
  const { dir, state } = c;
  const step = c.step ?? (() => undefined);
  const log = join(dir, "forward.log");
  for (let attempt = 1; ; attempt++) {
    const ports: Record<string, number> = {};
    const maps: string[] = [];
    for (const n of nodes) {
      ports[n.name] = await freeLoopbackPort();
      maps.push(`${ports[n.name]}=${n.address}:${API_PORT}`);
    }
    const pid = spawnDetached([...c.self, "bunkerctl", "cluster", "forward", "--netns", state.plan.netns, ...maps.flatMap((m) => ["--map", m])], log);
    state.forwarder = { pid, ports };
    saveState(dir, state);
    let listening = true;
    for (const port of Object.values(ports)) {
      if (!(await acceptsWithin(port, FORWARDER_START_MS, () => running(pid)))) {
        listening = false;
        break;
      }
    }
    if (listening) {
      step(`forwarding ${Object.entries(ports).map(([name, p]) => `127.0.0.1:${p} -> ${name}`).join(", ")} (pid ${pid})`);
      return;
    }
    const said = tail(log);
    const stillRunning = running(pid);
    if (stillRunning || attempt === FORWARDER_TRIES) {
      throw new Error(`the port forwarder (pid ${pid}) does not listen on ${Object.values(ports).map((p) => `127.0.0.1:${p}`).join(", ")} ${stillRunning ? `within ${FORWARDER_START_MS / 1000} s` : "and has ended"} (${log}${said ? `: ${said}` : ""})`);
    }
    step(`the port forwarder ended before it listened (${said || "no output"}); starting it again on other ports`);
  }
}
