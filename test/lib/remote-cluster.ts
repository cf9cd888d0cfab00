/**
 * Nodes for bunkerctl tests: the compiled binary's apid in front of stub inits (test/lib/
 * stub-node.ts), a cluster CA and client certificates made with core/pki, bunkerconfig files per
 * identity, and bunkerctl run as the operator runs it (the binary, its own process).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { saveClientConfig } from "../../core/clientconfig/clientconfig.ts";
import { issueClientCert, issueLeaf, newClusterCA, toPemPair, type CertAndKey } from "../../core/pki/issue.ts";
import { freePort } from "./container-node.ts";
import { StubNode } from "./stub-node.ts";

export { freePort };

export const BIN = resolve(import.meta.dir, "../../out/bunker");
const DAY = 86_400_000;

export interface RunningApid {
  port: number;
  endpoint: string;
  proc: ReturnType<typeof Bun.spawn>;
  stderr: () => string;
}

export interface Identity {
  /** Certificate and key; absent for a context without a client certificate. */
  client?: CertAndKey;
  /** The CA the context trusts (default the cluster CA). */
  ca?: CertAndKey;
}

export class TestCluster {
  readonly dir = mkdtempSync(join(tmpdir(), "bunker-ctl-"));

  /** `ca`: the cluster CA (a new one by default; a secrets bundle's to talk to a real node). */
  constructor(readonly ca: CertAndKey = newClusterCA()) {}

  private readonly procs: RunningApid[] = [];
  private readonly stubs: StubNode[] = [];
  private n = 0;

  private write(name: string, text: string): string {
    const p = join(this.dir, name);
    writeFileSync(p, text, { mode: 0o600 });
    return p;
  }

  /** A client certificate of the cluster CA (or `ca`), with roles and usage; `expired` makes one that ended yesterday. */
  client(roles: string[], o: { ca?: CertAndKey; usage?: ("clientAuth" | "serverAuth")[]; expired?: boolean } = {}): CertAndKey {
    const ca = o.ca ?? this.ca;
    if (o.usage) return issueLeaf(ca, { commonName: `user${this.n++}`, roles, lifetime: DAY, usage: o.usage });
    return issueClientCert(ca, { commonName: `user${this.n++}`, roles, lifetime: o.expired ? 3_600_000 : DAY, ...(o.expired ? { now: new Date(Date.now() - 2 * DAY) } : {}) });
  }

  /** A stub init on a unix socket. */
  async stub(hostname: string): Promise<{ node: StubNode; socket: string }> {
    const node = new StubNode(hostname);
    const socket = join(this.dir, `${hostname}.sock`);
    await node.server.listenUnix(socket);
    this.stubs.push(node);
    return { node, socket };
  }

  /**
   * The compiled binary's apid: a node certificate (serverAuth + clientAuth, os:impersonator) of
   * the cluster CA, or self-signed in maintenance mode. `members`: the cluster members it may
   * relay to (HOST:PORT); `port`: listen there (a port chosen ahead, so another node can list it).
   */
  async apid(name: string, backend: string, o: { maintenance?: boolean; acceptedCa?: CertAndKey; members?: string[]; port?: number } = {}): Promise<RunningApid> {
    const issuer = o.maintenance ? newClusterCA() : this.ca;
    const cert = toPemPair(issueLeaf(issuer, { commonName: name, roles: ["os:impersonator"], sans: ["127.0.0.1", "localhost"], lifetime: DAY, usage: ["serverAuth", "clientAuth"] }));
    const listen = o.port ?? await freePort();
    const args = [BIN, "apid", "--cert", this.write(`${name}.crt`, cert.crt), "--key", this.write(`${name}.key`, cert.key), "--backend", backend, "--listen", `127.0.0.1:${listen}`];
    if (o.maintenance) args.push("--maintenance");
    else args.push("--ca", this.write("ca.crt", toPemPair(this.ca).crt));
    if (o.acceptedCa) args.push("--accepted-ca", this.write(`${name}-accepted.crt`, toPemPair(o.acceptedCa).crt));
    if (o.members) args.push("--members", this.write(`${name}-members`, o.members.map((m) => `${m}\n`).join("")));
    const proc = Bun.spawn(args, { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    let err = "";
    const reader = (proc.stderr as ReadableStream<Uint8Array>).getReader();
    const deadline = Date.now() + 10_000;
    let port = 0;
    while (!port && Date.now() < deadline) {
      const r = await Promise.race([reader.read(), Bun.sleep(Math.max(1, deadline - Date.now())).then(() => undefined)]);
      if (!r || r.done) break;
      err += new TextDecoder().decode(r.value);
      port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(err)?.[1] ?? 0);
    }
    if (!port) throw new Error(`apid ${name} did not start: ${err}`);
    // Keep draining so apid never blocks on a full pipe.
    void (async () => { for (;;) { const r = await reader.read().catch(() => ({ done: true, value: undefined })); if (r.done) break; err += new TextDecoder().decode(r.value); } })();
    const running = { port, endpoint: `127.0.0.1:${port}`, proc, stderr: () => err };
    this.procs.push(running);
    return running;
  }

  /** A bunkerconfig with one context "test" for the identity; returns its path. */
  config(name: string, id: Identity, endpoints: string[], nodes: string[] = []): string {
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    const pair = id.client ? toPemPair(id.client) : undefined;
    const path = join(this.dir, `${name}.bunkerconfig`);
    saveClientConfig(path, { context: "test", contexts: { test: { endpoints, nodes, ca: b64(toPemPair(id.ca ?? this.ca).crt), crt: pair ? b64(pair.crt) : "", key: pair ? b64(pair.key) : "" } } });
    return path;
  }

  async close(): Promise<void> {
    for (const p of this.procs) p.proc.kill("SIGTERM");
    await Promise.all(this.procs.map((p) => p.proc.exited));
    for (const s of this.stubs) await s.server.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface CtlResult {
  code: number;
  out: string;
  err: string;
}

function spawnCtl(config: string | undefined, args: string[]) {
  const env: Record<string, string> = { ...(process.env as Record<string, string>), HOME: join(tmpdir(), "bunker-ctl-no-home") };
  if (config) env.BUNKERCONFIG = config;
  else delete env.BUNKERCONFIG;
  return Bun.spawn([BIN, "bunkerctl", ...args], { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
}

/** Runs `bunker bunkerctl ARGS` with the given bunkerconfig ($BUNKERCONFIG), bounded in time. */
export async function ctl(config: string | undefined, ...args: string[]): Promise<CtlResult> {
  const p = spawnCtl(config, args);
  const timer = setTimeout(() => p.kill(9), 30_000);
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(timer);
  return { code, out, err };
}

/**
 * Runs a command that does not end by itself (-f, -w) until its output matches `until`, then
 * interrupts it (SIGINT, as ctrl-C) and returns what it printed; killed after `ms` regardless.
 */
export async function ctlUntil(config: string | undefined, until: RegExp, ms: number, ...args: string[]): Promise<CtlResult & { matched: boolean }> {
  const p = spawnCtl(config, args);
  let out = "";
  let matched = false;
  const timer = setTimeout(() => p.kill(9), ms);
  const err = new Response(p.stderr).text();
  const decoder = new TextDecoder();
  for await (const chunk of p.stdout as ReadableStream<Uint8Array>) {
    out += decoder.decode(chunk);
    if (!matched && until.test(out)) {
      matched = true;
      p.kill("SIGINT");
    }
  }
  clearTimeout(timer);
  return { code: await p.exited, out, err: await err, matched };
}

const REBOOT_EXIT = 10;

/**
 * A real node on the host: the binary's `init --mode=container --api-listen` (init and apid),
 * booted from a config file or, without one, in maintenance mode. With `restartOnReboot`, init is
 * started again after it exits for a reboot, as a container runtime's restart policy would.
 * stop() sends SIGTERM so init stops apid first (SIGKILL would orphan it).
 */
export class ContainerNode {
  boots = 0;
  lastExit: number | null = null;
  proc: ReturnType<typeof Bun.spawn> | undefined;
  private stopping = false;

  constructor(readonly stateDir: string, readonly endpoint: string, readonly config: string | undefined, readonly o: { restartOnReboot?: boolean; logDir?: string } = {}) {}

  start(): void {
    this.boots++;
    const log = this.o.logDir ? Bun.file(join(this.o.logDir, `init-${this.endpoint.replace(/\W/g, "_")}-${this.boots}.log`)) : "ignore";
    const p = Bun.spawn([BIN, "init", "--mode=container", "--state-dir", this.stateDir, ...(this.config ? ["--config", this.config] : []), "--api-listen", this.endpoint, "--no-table"],
      { stdin: "ignore", stdout: log, stderr: log });
    this.proc = p;
    void p.exited.then((code) => {
      this.lastExit = code;
      if (code === REBOOT_EXIT && this.o.restartOnReboot && !this.stopping && this.boots < 5) this.start();
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    p.kill("SIGTERM");
    const t = setTimeout(() => p.kill("SIGKILL"), 20_000);
    await p.exited;
    clearTimeout(t);
  }
}
