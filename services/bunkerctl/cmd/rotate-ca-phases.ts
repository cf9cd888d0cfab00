/**
 * rotate-ca's phases on the nodes: each step (accept, swap, drop) applied live to every node not
 * yet there, checked first by a dry run that may change only the CA paths; the client config
 * taking the new credentials after the swap; the files rewritten at the end; and the dry-run plan.
 * The command (rotate-ca.ts) reads its flags and inputs and makes the state this works from.
 */
import { MachineService as M } from "../../../core/api/gen/services.ts";
import { loadClientConfig, saveClientConfig, type ClientContext } from "../../../core/clientconfig/clientconfig.ts";
import { writeFileAtomic } from "../../../core/fileio/atomic.ts";
import { GrpcClient } from "../../../core/grpc/client.ts";
import { fromPemPair } from "../../../core/pki/issue.ts";
import { behind, configAt, removeState, sameCert, saveState, stepIndex, type RotationState, type Step } from "../../../core/rotateca/rotateca.ts";
import { loadSecrets, saveSecrets } from "../../../core/secrets/secrets.ts";
import { EXIT } from "../client/exitcodes.ts";
import { explain } from "../client/errors.ts";
import type { Target } from "../client/target.ts";

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

/** Ends the rotation with this exit code and message. */
export class Stop extends Error {
  constructor(readonly exit: number, message: string) { super(message); }
}

interface Creds { ca: string; cert: string; key: string }

/** Why a call to `node` failed (in the words of every other command), and whether the node was simply not there. */
function failure(e: unknown, node: string, c: Creds): { unreachable: boolean; exit: number; text: string } {
  const target: Target = { context: "", configPath: undefined, endpoints: [node], nodes: [], insecure: false, ca: c.ca, cert: c.cert, key: c.key };
  const x = explain(e, target, node);
  return { unreachable: x.exit === EXIT.UNREACHABLE, exit: x.exit, text: x.message.startsWith(`${node}: `) ? x.message.slice(node.length + 2) : x.message };
}

export class Rotation {
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
