/**
 * A Bunker node on the host for tests: the compiled binary's init in container mode with apid
 * listening on a free loopback port, and the client credentials `bunkerctl gen config` made for
 * it (written out as PEM files for other clients).
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { acceptsWithin, freeLoopbackPort } from "../../core/cluster/container.ts";
import { tmpdir } from "node:os";
import { eventually } from "./eventually.ts";
import { join, resolve } from "node:path";
import { currentContext, loadClientConfig } from "../../core/clientconfig/clientconfig.ts";

export const bin = resolve(import.meta.dir, "../../out/bunker");

/** A port free on 127.0.0.1 right now. */
export const freePort = freeLoopbackPort;

/** Resolves when something accepts TCP connections on the port (bounded). */
export async function waitForPort(port: number, timeoutMs = 15_000): Promise<void> {
  if (await acceptsWithin(port, timeoutMs)) return;
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
}

export interface Credentials { ca: string; crt: string; key: string; caPath: string; crtPath: string; keyPath: string }

/** `bunkerctl gen config` into a fresh folder; returns the folder and the admin credentials. */
export function generateCluster(endpointPort: number): { dir: string; controlplane: string; worker: string; admin: Credentials } {
  const dir = mkdtempSync(join(tmpdir(), "bunker-cluster-"));
  const r = Bun.spawnSync([bin, "bunkerctl", "gen", "config", "demo", `https://127.0.0.1:${endpointPort}`, "--output-dir", dir], { stderr: "pipe", stdout: "pipe" });
  if (r.exitCode !== 0) throw new Error(`gen config failed: ${r.stderr.toString()}`);
  const ctx = currentContext(loadClientConfig(join(dir, "bunkerconfig"))).ctx;
  const d = (s: string | undefined) => Buffer.from(s ?? "", "base64").toString("utf8");
  const admin = { ca: d(ctx.ca), crt: d(ctx.crt), key: d(ctx.key), caPath: join(dir, "ca.crt"), crtPath: join(dir, "admin.crt"), keyPath: join(dir, "admin.key") };
  writeFileSync(admin.caPath, admin.ca);
  writeFileSync(admin.crtPath, admin.crt);
  writeFileSync(admin.keyPath, admin.key, { mode: 0o600 });
  return { dir, controlplane: join(dir, "controlplane.yaml"), worker: join(dir, "worker.yaml"), admin };
}

export interface Node {
  dir: string;
  port: number;
  socket: string;
  proc: Bun.Subprocess<"ignore", "ignore", "pipe">;
  /** SIGTERM (init stops apid and every service first), SIGKILL if that takes over 20 s; then removes the state dir. */
  stop(): Promise<void>;
}

/** Starts init (container mode) with apid on `port`; resolves once apid accepts connections. */
export async function startNode(port: number, args: string[] = []): Promise<Node> {
  const dir = mkdtempSync(join(tmpdir(), "bunker-node-"));
  const proc = Bun.spawn([bin, "init", "--mode=container", "--state-dir", dir, "--no-table", "--api-listen", `127.0.0.1:${port}`, ...args],
    { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  // A SIGKILLed init would leave apid running (services lead their own sessions): stop it properly.
  const stop = async () => {
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), 20_000);
    await proc.exited;
    clearTimeout(timer);
    rmSync(dir, { recursive: true, force: true });
  };
  const node = { dir, port, socket: join(dir, "init.sock"), proc, stop };
  try {
    await waitForPort(port);
    // init opens its socket a little after its API port.
    if (!(await eventually(() => existsSync(node.socket), 10_000))) throw new Error(`init did not open ${node.socket}`);
  } catch (err) {
    await node.stop();
    throw err;
  }
  return node;
}
