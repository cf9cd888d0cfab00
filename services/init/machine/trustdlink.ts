/**
 * trustd as init runs it (control planes): its service, its counts turned into events (who was
 * refused and why, who got a certificate; never a token or a key), and its secrets following
 * each applied config.
 */
import { join } from "node:path";
import type { MachineConfig } from "../../../core/config/config.ts";
import type { Store } from "../../../core/resources/index.ts";
import { TRUSTD_NODES, TRUSTD_STATUSES, type TrustdStatusSpec } from "../../../core/api/trustdstatus.ts";
import type { EventHistory } from "../events.ts";
import { errText, log } from "../log.ts";
import type { Supervisor } from "../supervisor.ts";
import { trustdSecrets, trustdSecretsPath, trustdService, writeTrustdSecrets, type TrustdPlan } from "../trustd.ts";
import type { MachineOptions } from "./options.ts";

const SIGHUP = 1;

export interface TrustdLinkDeps {
  store: Store;
  events: EventHistory;
  supervisor: Supervisor;
  opts: Pick<MachineOptions, "mode" | "runDir">;
  trustd: NonNullable<MachineOptions["trustd"]>;
  socketPath: string;
  currentConfig(): MachineConfig | undefined;
  hostname(): string;
  /** A worker joined through this node's trustd (apid relays to it). */
  onNodesChanged(): void;
}

export class TrustdLink {
  private readonly plan: TrustdPlan;
  private readonly stopWatches: () => void;

  /** Adds trustd to the supervisor and starts turning its status into events. */
  constructor(private readonly d: TrustdLinkDeps) {
    const { trustd: t, store, events } = d;
    this.plan = {
      listen: t.listen, dir: join(d.opts.runDir, "trustd"), socket: d.socketPath, uid: t.uid, gid: t.gid, lifetimeMs: t.lifetimeMs,
      oomScoreAdj: d.opts.mode === "metal" ? -998 : undefined,
      current: () => ({ config: d.currentConfig(), hostname: d.hostname() }),
    };
    d.supervisor.add(trustdService(this.plan));
    let seen = { issued: 0, refused: 0 };
    const stopStatus = store.watch(TRUSTD_STATUSES, (ev) => {
      if (ev.type !== "Created" && ev.type !== "Updated") return;
      const s = ev.resource.spec as TrustdStatusSpec;
      if (s.issued < seen.issued || s.refused < seen.refused) seen = { issued: 0, refused: 0 }; // trustd restarted
      if (s.refused > seen.refused && s.lastRefusal) {
        const n = s.refused - seen.refused;
        events.add("trustd", `refused ${n === 1 ? "a certificate request" : `${n} certificate requests`} from ${s.lastRefusal.peer}: ${s.lastRefusal.reason}`, { peer: s.lastRefusal.peer, count: n });
      }
      if (s.issued > seen.issued && s.lastIssue) {
        const i = s.lastIssue;
        events.add("trustd", `signed a node certificate for ${i.commonName} (${i.sans.join(", ")}), requested from ${i.peer}, valid until ${i.notAfter}`, { peer: i.peer, sans: i.sans });
      }
      seen = { issued: s.issued, refused: s.refused };
    }, { tailOnly: true });
    const stopNodes = store.watch(TRUSTD_NODES, () => d.onNodesChanged(), { tailOnly: true });
    this.stopWatches = () => { stopStatus(); stopNodes(); };
  }

  /** A config was applied: trustd follows it (a new token or CA: new secrets and SIGHUP; a new control plane: it starts). */
  refresh(): void {
    const { plan } = this;
    const { supervisor } = this.d;
    const state = supervisor.status("trustd").state;
    const { config, hostname } = plan.current();
    const secrets = trustdSecrets(config, hostname);
    if (typeof secrets === "string") return; // a worker now: trustd stays as it is until the next boot
    if (state === "Running") {
      writeTrustdSecrets(trustdSecretsPath(plan), secrets, plan.uid === undefined ? undefined : { uid: plan.uid, gid: plan.gid ?? plan.uid });
      supervisor.signal("trustd", SIGHUP);
    } else if (state === "Skipped") {
      supervisor.restart("trustd").catch((err) => log.error(`starting trustd: ${errText(err)}`));
    }
  }

  stop(): void {
    this.stopWatches();
  }
}
