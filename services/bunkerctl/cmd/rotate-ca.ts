import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { MachineService as M } from "../../../core/api/gen/services.ts";
import { loadClientConfig, saveClientConfig, type ClientConfig, type ClientContext } from "../../../core/clientconfig/clientconfig.ts";
import { writeFileAtomic } from "../../../core/fileio/atomic.ts";
import { GrpcClient } from "../../../core/grpc/client.ts";
import { fromPemPair, issueAdminCert, newClusterCA, toPemPair } from "../../../core/pki/issue.ts";
import {
  behind, configAt, configCA, loadState, removeState, RotationError, sameCert, saveState, stepIndex,
  type RotationState, type Step,
} from "../../../core/rotateca/rotateca.ts";
import { loadSecrets, saveSecrets } from "../../../core/secrets/secrets.ts";
import { clientConfigPath, parseCommandArgs, usageError } from "../args.ts";
import { EXIT } from "../client/exitcodes.ts";
import { parseDuration } from "../client/output.ts";
import { explain } from "../client/errors.ts";
import { normalizeEndpoint, splitList, type Target } from "../client/target.ts";

const HELP = `Usage: bunkerctl rotate-ca --config [NODE=]FILE... [--secrets FILE] [--state DIR]
                          [--dry-run] [--stop-after accept|swap] [-n NODE]...
                          [--bunkerconfig PATH] [--context NAME] [--timeout DURATION]

Replaces the cluster CA on every node (os:admin) without losing any of them:
  1. accept   a new CA (made here) joins machine.acceptedCAs on every node
  2. swap     machine.ca becomes the new CA (key included on control planes), the old one stays
              accepted; each node re-issues its API certificates from the new CA
  3. client   the context gets the new CA and a new admin certificate; the old credentials are
              kept as context NAME-before-rotate until the end
  4. drop     the old CA leaves machine.acceptedCAs: its certificates are refused everywhere
  5. files    the --config files (and --secrets) are rewritten with the new CA; the backup
              context and the state file are removed
Every change is an ApplyConfiguration in live mode: nothing reboots. A step starts only once
every node has finished the one before. A node that cannot be reached is named and the
rotation stops there (exit 4); the old CA stays accepted until every node is done. Re-running
the same command resumes from the state file.

The node's published config holds no keys, so the configs come from you: the files the nodes
run (from gen config, with your patches), one for all nodes or one per node.

Options:
  --config [NODE=]FILE   the machine config the nodes run (NODE=: only that node); repeatable
  --secrets FILE         a secrets bundle to update with the new CA at the end
  --state DIR            where to keep the state (default: next to the client config,
                         <bunkerconfig>.rotate-ca.json); it holds the new CA key (mode 0600)
  --dry-run              print the plan and check each node would take the next step live;
                         change nothing, write nothing
  --stop-after STEP      stop once every node has done accept, or swap (and client)
  -n, --nodes NODE       more nodes to rotate (the context's endpoints and nodes always are;
                         -e/--endpoints adds too)
  --bunkerconfig PATH    client config (default $BUNKERCONFIG, else ~/.bunker/config)
  --context NAME         context of the client config (default: its current one)
  --timeout DURATION     limit for each call (default 30s)

Exit codes: 0 done (or stopped where asked), 1 a node refused a step (5: refused the
credentials), 2 usage, 3 client config, configs or state unusable, 4 a node could not be
reached (named; re-run when it is back).

Example:
  bunkerctl rotate-ca --config controlplane.yaml --config 10.5.0.9=worker.yaml --secrets secrets.yaml`;

const OPTIONS = {
  config: { type: "string", multiple: true },
  secrets: { type: "string" },
  state: { type: "string" },
  "dry-run": { type: "boolean" },
  "stop-after": { type: "string" },
  nodes: { type: "string", short: "n", multiple: true },
  endpoints: { type: "string", short: "e", multiple: true },
  bunkerconfig: { type: "string" },
  context: { type: "string" },
  timeout: { type: "string" },
} as const;

const b64 = (s: string) => Buffer.from(s).toString("base64");
const pem = (s: string) => Buffer.from(s, "base64").toString("utf8");
const APPLY_AUTO = 0;
const APPLY_LIVE = 1;
/** ChangeEffect.CHANGE_EFFECT_REBOOT (machine.proto). */
const EFFECT_REBOOT = 1;
/** Paths a rotation step may change; anything else means the file is not what the node runs. */
const OWN_PATHS = /^machine\.(ca|acceptedCAs)(\.|\[|$)/;
/** How long a node gets to reload its certificates after a step (apid reloads on SIGHUP). */
const RELOAD_WAIT_MS = 15_000;

const PHASE_OF: Record<"accept" | "swap" | "drop", Exclude<Step, "pending">> = { accept: "accepted", swap: "swapped", drop: "dropped" };

class Stop extends Error {
  constructor(readonly exit: number, message: string) { super(message); }
}

interface Creds { ca: string; cert: string; key: string }

export async function run(argv: string[]): Promise<number> {
  const a = parseCommandArgs(argv, HELP, OPTIONS, [0, 0]);
  if (typeof a === "number") return a;
  const v = a.values;
  const timeoutMs = v.timeout === undefined ? 30_000 : parseDuration(v.timeout);
  if (timeoutMs === undefined || timeoutMs <= 0) return usageError(HELP, `--timeout ${v.timeout}: expected a duration such as 10s or 2m`);
  const stopAfter = v["stop-after"];
  if (stopAfter !== undefined && stopAfter !== "accept" && stopAfter !== "swap") return usageError(HELP, `--stop-after ${stopAfter}: expected accept or swap`);
  const cfgPath = clientConfigPath(v.bunkerconfig);
  const statePath = v.state ? join(v.state, "rotate-ca.json") : `${cfgPath}.rotate-ca.json`;
  const dryRun = v["dry-run"] === true;
  try {
    let state = loadState(statePath);
    const resumed = state !== undefined;
    if (state) checkResume(state, cfgPath, v.context, extraNodes(v.nodes, v.endpoints));
    else state = begin(cfgPath, v.context, extraNodes(v.nodes, v.endpoints), v.config ?? [], v.secrets);
    const r = new Rotation(state, statePath, timeoutMs);
    if (dryRun) return await r.plan(resumed);
    if (!resumed) {
      // A config that is not what a node runs stops the rotation before the new CA exists anywhere.
      await r.preflight();
      if (v.state) mkdirSync(v.state, { recursive: true, mode: 0o700 });
      saveState(statePath, state);
    }
    console.log(`rotate-ca: ${resumed ? "resuming the rotation started at " + state.startedAt : "new CA made"}; context ${state.context}, ${Object.keys(state.nodes).length} node(s); state in ${statePath}`);
    return await r.run(stopAfter as "accept" | "swap" | undefined);
  } catch (e) {
    if (e instanceof Stop) {
      console.error(`error: ${e.message}`);
      return e.exit;
    }
    if (e instanceof RotationError) {
      console.error(`error: ${e.message}`);
      return EXIT.CONFIG;
    }
    // A local file that cannot be written (state, client config, --config): the state says where it stopped.
    console.error(`error: ${e instanceof Error ? e.message : String(e)}; re-run to resume (state: ${statePath})`);
    return EXIT.FAILED;
  }
}

function extraNodes(nodes: string[] | undefined, endpoints: string[] | undefined): string[] {
  return [...splitList(endpoints), ...splitList(nodes)].map((n) => normalize(n, "-n/-e"));
}

function normalize(n: string, where: string): string {
  try {
    return normalizeEndpoint(n);
  } catch (e) {
    throw new RotationError(`${where}: ${(e as Error).message}`);
  }
}

function loadContext(cfgPath: string, name: string | undefined): { config: ClientConfig; name: string; ctx: ClientContext } {
  let config: ClientConfig;
  try {
    config = loadClientConfig(cfgPath);
  } catch (e) {
    throw new RotationError((e as Error).message);
  }
  const n = name ?? config.context;
  const ctx = config.contexts[n];
  if (!ctx) throw new RotationError(`${cfgPath}: no context ${JSON.stringify(n)} (known: ${Object.keys(config.contexts).join(", ") || "none"})`);
  return { config, name: n, ctx };
}

/** A new rotation: checks every input before anything is made or sent. */
function begin(cfgPath: string, contextFlag: string | undefined, extra: string[], configFlags: string[], secretsPath: string | undefined): RotationState {
  const { name, ctx } = loadContext(cfgPath, contextFlag);
  if (!ctx.ca || !ctx.crt || !ctx.key) throw new RotationError(`${cfgPath}: context ${name} needs ca, crt and key (an os:admin certificate of the CA being rotated)`);
  const nodes = [...new Set([...ctx.endpoints.map((e) => normalize(e, `context ${name} endpoints`)), ...ctx.nodes.map((e) => normalize(e, `context ${name} nodes`)), ...extra])];
  if (nodes.length === 0) throw new RotationError(`context ${name} names no endpoint or node, and no -n was given: nothing to rotate`);
  if (configFlags.length === 0) throw new RotationError("--config FILE is required: the machine config the nodes run (the published config holds no keys)");
  let fallback: string | undefined;
  const perNode = new Map<string, string>();
  for (const f of configFlags) {
    const eq = f.indexOf("=");
    if (eq > 0) perNode.set(normalize(f.slice(0, eq), `--config ${f}`), f.slice(eq + 1));
    else if (fallback !== undefined) throw new RotationError(`--config ${f}: a second config for all nodes (the first was ${fallback}); give NODE=FILE for the others`);
    else fallback = f;
  }
  for (const n of perNode.keys()) if (!nodes.includes(n)) throw new RotationError(`--config ${n}=...: ${n} is not among the nodes to rotate (${nodes.join(", ")})`);
  const configs: Record<string, string> = {};
  const nodeState: RotationState["nodes"] = {};
  for (const n of nodes) {
    const file = perNode.get(n) ?? fallback;
    if (!file) throw new RotationError(`no config for node ${n}: give --config FILE (all nodes) or --config ${n}=FILE`);
    if (!(file in configs)) {
      try {
        configs[file] = readFileSync(file, "utf8");
      } catch (e) {
        throw new RotationError(`--config ${file}: cannot read it: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
    nodeState[n] = { config: file, step: "pending" };
  }
  let withKey = false;
  for (const [file, text] of Object.entries(configs)) {
    const ca = configCA(text, file);
    if (!sameCert(ca.crt, ctx.ca)) throw new RotationError(`${file}: machine.ca.crt is not the CA of context ${name}: pass the config these nodes run`);
    withKey ||= ca.hasKey;
  }
  if (secretsPath) {
    let s;
    try { s = loadSecrets(secretsPath); } catch (e) { throw new RotationError((e as Error).message); }
    if (!sameCert(b64(toPemPair(s.os).crt), ctx.ca)) throw new RotationError(`${secretsPath}: certs.os is not the CA of context ${name}`);
  }
  // The new CA key must end up somewhere the operator keeps: a control-plane config or the bundle.
  if (!withKey && !secretsPath) throw new RotationError("no config given holds machine.ca.key and no --secrets was given: the new CA key would be kept nowhere; add the control-plane config or --secrets");
  const ca = newClusterCA();
  const caPem = toPemPair(ca);
  const admin = toPemPair(issueAdminCert(ca));
  return {
    version: 1, clientConfig: cfgPath, context: name, startedAt: new Date().toISOString(),
    oldCa: ctx.ca, newCa: { crt: b64(caPem.crt), key: b64(caPem.key) },
    oldAdmin: { crt: ctx.crt, key: ctx.key }, newAdmin: { crt: b64(admin.crt), key: b64(admin.key) },
    configs, ...(secretsPath ? { secrets: secretsPath } : {}), nodes: nodeState,
    clientConfigWritten: false, backupContext: `${name}-before-rotate`,
  };
}

function checkResume(s: RotationState, cfgPath: string, contextFlag: string | undefined, extra: string[]): void {
  if (s.clientConfig !== cfgPath) throw new RotationError(`the rotation under way is of ${s.clientConfig}, not ${cfgPath}: finish it first (or give --state another folder)`);
  if (contextFlag !== undefined && contextFlag !== s.context) throw new RotationError(`the rotation under way is of context ${s.context}, not ${contextFlag}: finish it first`);
  const unknown = extra.filter((n) => !(n in s.nodes));
  if (unknown.length) throw new RotationError(`the rotation under way covers ${Object.keys(s.nodes).join(", ")}; ${unknown.join(", ")} ${unknown.length > 1 ? "are" : "is"} not among them: finish it first`);
}

/** Why a call to `node` failed (in the words of every other command), and whether the node was simply not there. */
function failure(e: unknown, node: string, c: Creds): { unreachable: boolean; exit: number; text: string } {
  const target: Target = { context: "", configPath: undefined, endpoints: [node], nodes: [], insecure: false, ca: c.ca, cert: c.cert, key: c.key };
  const x = explain(e, target, node);
  return { unreachable: x.exit === EXIT.UNREACHABLE, exit: x.exit, text: x.message.startsWith(`${node}: `) ? x.message.slice(node.length + 2) : x.message };
}

class Rotation {
  constructor(private readonly s: RotationState, private readonly statePath: string, private readonly timeoutMs: number) {}

  /** Trusts servers of either CA (a node may be before or after its swap); authenticates as the node accepts. */
  private credsFor(node: string, verifyOnlyNew = false): Creds {
    const step = this.s.nodes[node]!.step;
    const admin = step === "pending" ? this.s.oldAdmin : this.s.newAdmin;
    const ca = verifyOnlyNew ? pem(this.s.newCa.crt) : pem(this.s.oldCa) + pem(this.s.newCa.crt);
    return { ca, cert: pem(admin.crt), key: pem(admin.key) };
  }

  private async withClient<T>(node: string, c: Creds, fn: (g: GrpcClient) => Promise<T>): Promise<T> {
    const g = GrpcClient.tls({ address: node, ca: c.ca, cert: c.cert, key: c.key });
    try { return await fn(g); } finally { g.close(); }
  }

  private configFor(node: string, step: Exclude<Step, "pending">): string {
    const file = this.s.nodes[node]!.config;
    return configAt(this.s.configs[file]!, file, step, this.s.oldCa, this.s.newCa);
  }

  /** A dry run of the step on the node: only the CA paths may change, and all of it live. */
  private async check(g: GrpcClient, node: string, step: Exclude<Step, "pending">): Promise<string[]> {
    const data = new TextEncoder().encode(this.configFor(node, step));
    // Mode auto: the answer lists every change with its effect (live mode refuses without saying which are foreign).
    const r = await g.unary(M.ApplyConfiguration, { data, mode: APPLY_AUTO, dryRun: true }, { timeoutMs: this.timeoutMs });
    const paths = (r.changes ?? []).map((c) => c.path ?? "");
    const foreign = paths.filter((p) => !OWN_PATHS.test(p));
    if (foreign.length) {
      throw new Stop(EXIT.CONFIG, `${node}: ${this.s.nodes[node]!.config} is not the config this node runs: it would also change ${foreign.join(", ")}; pass the node's own config with --config ${node}=FILE`);
    }
    const reboot = (r.changes ?? []).filter((c) => c.effect === EFFECT_REBOOT).map((c) => c.path ?? "");
    if (reboot.length) throw new Stop(EXIT.FAILED, `${node}: this node needs a reboot to change ${reboot.join(", ")} (it runs a version without live CA changes); upgrade it first`);
    return paths;
  }

  private async apply(node: string, step: Exclude<Step, "pending">): Promise<void> {
    await this.withClient(node, this.credsFor(node), async (g) => {
      await this.check(g, node, step);
      const data = new TextEncoder().encode(this.configFor(node, step));
      await g.unary(M.ApplyConfiguration, { data, mode: APPLY_LIVE, dryRun: false }, { timeoutMs: this.timeoutMs });
    });
    this.s.nodes[node]!.step = step;
    saveState(this.statePath, this.s);
    // From the swap on, the node must answer the new admin certificate with a certificate of the
    // new CA: apid reloads its files on SIGHUP, so wait for it, bounded.
    if (step !== "accepted") await this.answersWithNewCA(node);
  }

  private async answersWithNewCA(node: string): Promise<void> {
    const end = Date.now() + RELOAD_WAIT_MS;
    let last: unknown;
    for (let i = 0; i < 100 && Date.now() < end; i++) {
      try {
        await this.withClient(node, this.credsFor(node, true), (g) => g.unary(M.Version, {}, { timeoutMs: this.timeoutMs }));
        return;
      } catch (e) {
        last = e;
        await Bun.sleep(200);
      }
    }
    throw new Error(`took the change but does not answer with a certificate of the new CA after ${RELOAD_WAIT_MS / 1000} s (${failure(last, node, this.credsFor(node, true)).text})`);
  }

  /** Before a new rotation: the reachable nodes' dry runs of the first step (a wrong --config throws Stop). */
  async preflight(): Promise<void> {
    for (const node of Object.keys(this.s.nodes)) {
      try {
        await this.withClient(node, this.credsFor(node), (g) => this.check(g, node, "accepted"));
      } catch (e) {
        if (e instanceof Stop) throw e;
        // Unreachable or refusing: the accept step names it.
      }
    }
  }

  /** Takes every node not yet at `step` there; stops naming those that could not be. */
  private async phase(name: "accept" | "swap" | "drop"): Promise<void> {
    const step = PHASE_OF[name];
    const todo = behind(this.s, step);
    const failed: { node: string; unreachable: boolean; exit: number; text: string }[] = [];
    for (const node of todo) {
      try {
        await this.apply(node, step);
        console.log(`${node}: ${name}: done`);
      } catch (e) {
        if (e instanceof Stop) throw e;
        const f = failure(e, node, this.credsFor(node));
        failed.push({ node, ...f });
        console.error(`${node}: ${name}: ${f.text}`);
      }
    }
    if (!failed.length) return;
    const names = failed.map((f) => f.node).join(", ");
    const held = name === "drop" ? "the nodes already done refuse the old CA; the others still accept it" : "the old CA stays accepted everywhere";
    throw new Stop(failed.find((f) => !f.unreachable)?.exit ?? EXIT.UNREACHABLE,
      `rotation stopped at step ${name}: not done on ${names}; ${held}. Re-run the same command once ${failed.length > 1 ? "they are" : "it is"} back to resume`);
  }

  async run(stopAfter: "accept" | "swap" | undefined): Promise<number> {
    await this.phase("accept");
    if (stopAfter === "accept") return this.stopped("accept");
    await this.phase("swap");
    if (!this.s.clientConfigWritten) this.writeClientConfig();
    if (stopAfter === "swap") return this.stopped("swap");
    await this.phase("drop");
    this.finish();
    console.log(`rotate-ca: done: every node trusts only the new CA; context ${this.s.context} holds the new admin certificate`);
    return EXIT.OK;
  }

  private stopped(step: string): number {
    console.log(`rotate-ca: stopped after ${step} on every node, as asked; the old CA stays accepted. Re-run to continue (state: ${this.statePath})`);
    return EXIT.OK;
  }

  /** The context gets the new credentials; the old ones stay as a backup context until the end. */
  private writeClientConfig(): void {
    const path = this.s.clientConfig;
    const c = loadClientConfig(path);
    const ctx = c.contexts[this.s.context];
    if (!ctx) throw new Stop(EXIT.CONFIG, `${path}: context ${this.s.context} is gone; it is needed to store the new credentials`);
    let backup = this.s.backupContext;
    for (let i = 1; backup in c.contexts && !sameCert(c.contexts[backup]!.crt, this.s.oldAdmin.crt); i++) backup = `${this.s.backupContext}-${i}`;
    this.s.backupContext = backup;
    const old: ClientContext = { ...ctx, ca: this.s.oldCa, crt: this.s.oldAdmin.crt, key: this.s.oldAdmin.key };
    c.contexts = { ...c.contexts, [backup]: old, [this.s.context]: { ...ctx, ca: this.s.newCa.crt, crt: this.s.newAdmin.crt, key: this.s.newAdmin.key } };
    saveClientConfig(path, c);
    this.s.clientConfigWritten = true;
    saveState(this.statePath, this.s);
    console.log(`client config: context ${this.s.context} now holds the new CA and admin certificate (the old ones: context ${backup}, until the end)`);
  }

  /** Files follow the nodes, then the backup context and the state go. Each write is whole; a re-run repeats them. */
  private finish(): void {
    for (const [file, text] of Object.entries(this.s.configs)) {
      writeFileAtomic(file, configAt(text, file, "dropped", this.s.oldCa, this.s.newCa), { mode: 0o600, overwrite: true });
      console.log(`${file}: rewritten with the new CA`);
    }
    if (this.s.secrets) {
      const s = loadSecrets(this.s.secrets);
      saveSecrets(this.s.secrets, { ...s, os: fromPemPair({ crt: pem(this.s.newCa.crt), key: pem(this.s.newCa.key) }, "new CA") }, { overwrite: true });
      console.log(`${this.s.secrets}: certs.os is the new CA`);
    }
    const c = loadClientConfig(this.s.clientConfig);
    if (this.s.backupContext in c.contexts && sameCert(c.contexts[this.s.backupContext]!.crt, this.s.oldAdmin.crt)) {
      const { [this.s.backupContext]: _gone, ...rest } = c.contexts;
      saveClientConfig(this.s.clientConfig, { ...c, contexts: rest });
    }
    removeState(this.statePath);
  }

  /** --dry-run: what would happen, and whether each node would take its next step live. */
  async plan(resumed: boolean): Promise<number> {
    const s = this.s;
    console.log(`rotate-ca --dry-run: context ${s.context} of ${s.clientConfig}; ${resumed ? `resuming the rotation started at ${s.startedAt}` : "a new rotation (a new CA would be made)"}; nothing is changed`);
    console.log("steps:");
    console.log("  1. accept  the new CA joins machine.acceptedCAs on every node (live)");
    console.log("  2. swap    machine.ca becomes the new CA, the old one stays accepted; API certificates re-issued (live)");
    console.log(`  3. client  context ${s.context} gets the new CA and admin certificate; the old ones kept as ${s.backupContext}${s.clientConfigWritten ? " (done)" : ""}`);
    console.log("  4. drop    the old CA leaves machine.acceptedCAs on every node (live)");
    console.log(`  5. files   ${[...Object.keys(s.configs), ...(s.secrets ? [s.secrets] : [])].join(", ")} rewritten with the new CA; backup context and state removed`);
    console.log("nodes:");
    let exit: number = EXIT.OK;
    for (const [node, n] of Object.entries(s.nodes)) {
      const next = (["accept", "swap", "drop"] as const).find((p) => stepIndex(n.step) < stepIndex(PHASE_OF[p]));
      if (!next) {
        console.log(`  ${node}  ${n.config}  at ${n.step}: nothing left`);
        continue;
      }
      try {
        const paths = await this.withClient(node, this.credsFor(node), (g) => this.check(g, node, PHASE_OF[next]));
        console.log(`  ${node}  ${n.config}  at ${n.step}: next ${next}, applies live (${paths.join(", ") || "no change"})`);
      } catch (e) {
        if (e instanceof Stop) {
          console.log(`  ${node}  ${n.config}  at ${n.step}: ${e.message}`);
          exit = exit || e.exit;
          continue;
        }
        const f = failure(e, node, this.credsFor(node));
        console.log(`  ${node}  ${n.config}  at ${n.step}: next ${next}: ${f.text}`);
        exit = exit || f.exit;
      }
    }
    return exit;
  }
}
