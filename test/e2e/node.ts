/**
 * Driving a booted node from the host, as an operator does: the compiled binary's `bunker ctl`,
 * a cluster config from `gen config` whose client config points at the QEMU hostfwd port.
 * Shared by the end-to-end scenario, the boot benchmark and the demo script's test.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { repo } from "../image/fixture.ts";

export const BUNKER = join(repo, "out/bunker");

export interface CtlResult {
  code: number;
  out: string;
  err: string;
}

/** Runs `bunker ctl ARGS` with BUNKERCONFIG (if given); never throws on a non-zero exit. */
export async function ctl(args: string[], bunkerconfig?: string, timeoutMs = 60_000): Promise<CtlResult> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root" };
  if (bunkerconfig) env.BUNKERCONFIG = bunkerconfig;
  const p = Bun.spawn([BUNKER, "ctl", ...args], { env, stdout: "pipe", stderr: "pipe" });
  const t = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
  try {
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    return { code, out, err };
  } finally {
    clearTimeout(t);
  }
}

/** Like ctl(), but a non-zero exit throws with both outputs. */
export async function ctlOk(args: string[], bunkerconfig?: string, timeoutMs?: number): Promise<string> {
  const r = await ctl(args, bunkerconfig, timeoutMs);
  if (r.code !== 0) throw new Error(`bunkerctl ${args.join(" ")}: exit ${r.code}\n${r.out}${r.err}`);
  return r.out;
}

export interface Cluster {
  dir: string;
  controlplane: string;
  bunkerconfig: string;
}

/**
 * `gen config` into `dir` for a node reached on 127.0.0.1:`port` (the API certificate names
 * 127.0.0.1 too), then points the client config's endpoint and node at that port.
 */
export async function genCluster(dir: string, port: number, name = "e2e"): Promise<Cluster> {
  await ctlOk(["gen", "config", name, "https://10.0.2.15:50000", "--additional-sans", "127.0.0.1", "--output-dir", dir]);
  const bunkerconfig = join(dir, "bunkerconfig");
  await pointAt(bunkerconfig, port);
  return { dir, controlplane: join(dir, "controlplane.yaml"), bunkerconfig };
}

/** Endpoint and node of the client config's context: 127.0.0.1:port (the node is then not relayed). */
export async function pointAt(bunkerconfig: string, port: number): Promise<void> {
  await ctlOk(["config", "endpoint", `127.0.0.1:${port}`, "--bunkerconfig", bunkerconfig]);
  await ctlOk(["config", "node", `127.0.0.1:${port}`, "--bunkerconfig", bunkerconfig]);
}

/** A copy of a machine config with machine.network.hostname set. */
export function withHostname(config: string, hostname: string, out: string): string {
  const doc = parseDocument(readFileSync(config, "utf8"));
  doc.setIn(["machine", "network", "hostname"], hostname);
  writeFileSync(out, doc.toString(), { mode: 0o600 });
  return out;
}

/**
 * Polls `bunkerctl version` (mTLS with `bunkerconfig`, or --insecure on `port`) until it answers,
 * at most `timeoutMs`; returns its output. Throws with the last error at the deadline.
 */
export async function waitForApi(o: { bunkerconfig?: string; port: number; insecure?: boolean }, timeoutMs: number): Promise<string> {
  const deadline = performance.now() + timeoutMs;
  const args = o.insecure ? ["version", "--insecure", "-e", `127.0.0.1:${o.port}`, "--timeout", "5s"] : ["version", "--timeout", "5s"];
  let last = "";
  while (performance.now() < deadline) {
    const r = await ctl(args, o.insecure ? undefined : o.bunkerconfig, 15_000);
    if (r.code === 0) return r.out;
    last = r.out + r.err;
    await Bun.sleep(500);
  }
  throw new Error(`the API did not answer within ${timeoutMs} ms: ${last}`);
}
