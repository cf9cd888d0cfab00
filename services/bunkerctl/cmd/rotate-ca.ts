/**
 * bunkerctl rotate-ca: its flags, its inputs checked before anything is made (the context, the
 * configs the nodes run, the secrets bundle), the new CA and admin certificate, and the state
 * file that makes it resumable. The phases on the nodes are rotate-ca-phases.ts's.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { loadClientConfig, type ClientConfig, type ClientContext } from "../../../core/clientconfig/clientconfig.ts";
import { issueAdminCert, newClusterCA, toPemPair } from "../../../core/pki/issue.ts";
import { configCA, loadState, RotationError, sameCert, saveState, type RotationState } from "../../../core/rotateca/rotateca.ts";
import { loadSecrets } from "../../../core/secrets/secrets.ts";
import { clientConfigPath, parseCommandArgs, usageError } from "../args.ts";
import { EXIT } from "../client/exitcodes.ts";
import { parseDuration } from "../client/output.ts";
import { normalizeEndpoint, splitList } from "../client/target.ts";
import { Rotation, Stop } from "./rotate-ca-phases.ts";

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
