/**
 * apid as init runs it: its certificates (issued before each start, re-issued when a config is
 * applied or the node's addresses change), the members file it relays by, and the restart that
 * takes it out of maintenance mode without letting a call slip through the closing listener.
 */
import { join } from "node:path";
import type { MachineConfig } from "../../../core/config/config.ts";
import { ADDRESS_STATUSES } from "../../../core/netresources/kinds.ts";
import { compactFingerprint, opensslFingerprint } from "../../../core/pki/fingerprint.ts";
import type { Store } from "../../../core/resources/index.ts";
import { ApiCertificates, type ApidMode } from "../apicerts.ts";
import { apidService, listenerClosed } from "../apid.ts";
import { configMembers, joinedMembers, writeMembers } from "../apidmembers.ts";
import type { EventHistory } from "../events.ts";
import { errText, log } from "../log.ts";
import { API_CERT_STATUS, type ApiCertStatusSpec } from "../resources.ts";
import type { Supervisor } from "../supervisor.ts";
import { joinedNodes } from "../trustd.ts";
import type { MachineOptions } from "./options.ts";

const SIGHUP = 1;
/** How long an apply that leaves maintenance waits for apid's insecure listener to close. */
const APID_STOP_WAIT_MS = 3000;
/** Address changes come in bursts (a lease: address, then routes); re-issue once they settle. */
const ADDRESS_SETTLE_MS = 300;

export interface ApidLinkDeps {
  store: Store;
  events: EventHistory;
  supervisor: Supervisor;
  opts: Pick<MachineOptions, "mode" | "runDir" | "trustdPort">;
  api: NonNullable<MachineOptions["api"]>;
  socketPath: string;
  currentConfig(): MachineConfig | undefined;
  hostname(): string;
}

export class ApidLink {
  readonly certs: ApiCertificates;
  /** The mode apid was last started in; undefined until its first start. */
  private mode: ApidMode | undefined;
  private readonly stopAddressWatch: () => void;

  /** Adds apid to the supervisor and starts following the node's addresses. */
  constructor(private readonly d: ApidLinkDeps) {
    const { api, store, events, supervisor } = d;
    this.certs = new ApiCertificates({
      dir: join(d.opts.runDir, "apid"), uid: api.uid, gid: api.gid, lifetimeMs: api.certLifetimeMs,
      onRenewed: () => {
        log.info("api certificates renewed; apid reloads them (SIGHUP)");
        supervisor.signal("apid", SIGHUP);
      },
      onError: (err) => log.error(`api certificates: ${errText(err)}`),
      trustdPort: d.opts.trustdPort, apiPort: Number(/:(\d+)$/.exec(api.listen)?.[1]) || undefined,
      onStatus: (spec) => {
        const before = store.get<ApiCertStatusSpec>(API_CERT_STATUS)?.spec;
        store.modify<ApiCertStatusSpec>(API_CERT_STATUS, () => spec, { owner: "init" });
        // Events on changes of state only, not on each retry of the same failure.
        if (spec.signer === "trustd" && (before?.signer !== "trustd" || before.error)) events.add("apid", `certificate signed by trustd at ${spec.from}, valid until ${spec.notAfter}`);
        if (spec.error && !before?.error) events.add("apid", `trustd has not signed apid's certificate: ${spec.error}`);
      },
      // No CA vouches for maintenance mode's self-signed certificate: the console says which it is.
      onIssued: (mode, fp) => { if (mode === "maintenance") log.info(`apid: maintenance certificate SHA-256 fingerprint ${opensslFingerprint(fp)} (${compactFingerprint(fp)}); check it with bunkerctl --insecure --fingerprint`); },
    });
    const certs = this.certs;
    // apid starts at once, not after networkd: its certificate follows the addresses instead.
    supervisor.add(apidService({
      listen: api.listen, socket: d.socketPath, certs, uid: api.uid, gid: api.gid, members: this.membersPath,
      oomScoreAdj: d.opts.mode === "metal" ? -998 : undefined,
      prepare: () => {
        this.mode = certs.issue(d.currentConfig(), d.hostname());
        this.writeMembers();
        return this.mode;
      },
    }));
    // An address that arrives later (a DHCP lease, a static one networkd applies, a change) must
    // be in the server certificate: clients dial it and check it against the SANs.
    let settle: ReturnType<typeof setTimeout> | undefined;
    const stop = store.watch(ADDRESS_STATUSES, () => {
      clearTimeout(settle);
      settle = setTimeout(() => {
        if (this.mode === undefined || !certs.addressesChanged()) return;
        log.info("node addresses changed: apid's certificate is re-issued to name them");
        this.refresh().catch((err) => log.error(`re-issuing apid's certificate: ${errText(err)}`));
      }, ADDRESS_SETTLE_MS);
    }, { tailOnly: true });
    this.stopAddressWatch = () => { clearTimeout(settle); stop(); };
  }

  /** Next to apid's certificates (the folder ApiCertificates makes, closed to others). */
  private get membersPath(): string { return join(this.d.opts.runDir, "apid", "members"); }

  /**
   * The cluster members apid may relay to: from the current config, and the workers this node's
   * trustd signed for (still valid); apid reads them on start and SIGHUP.
   */
  private writeMembers(): void {
    const { api } = this.d;
    const entries = [...configMembers(this.d.currentConfig()), ...joinedMembers(joinedNodes(this.d.store))];
    writeMembers(this.membersPath, entries, api.uid === undefined ? undefined : { uid: api.uid, gid: api.gid ?? api.uid });
  }

  /** A worker joined: it is a member apid may relay to (`-n WORKER` through this node). */
  membersChanged(): void {
    if (this.mode === undefined || this.mode === "maintenance") return;
    this.writeMembers();
    this.d.supervisor.signal("apid", SIGHUP);
  }

  /**
   * A config was applied: apid's certificates follow it. Same mode: new files and SIGHUP (open
   * streams survive); another mode (leaving maintenance): apid restarts, after the answer left.
   */
  async refresh(): Promise<void> {
    if (this.mode === undefined) return; // apid has not started yet: its pre-start will do it
    const { supervisor, api } = this.d;
    const mode = this.certs.issue(this.d.currentConfig(), this.d.hostname());
    this.writeMembers();
    if (mode === this.mode) { supervisor.signal("apid", SIGHUP); return; }
    log.info(`apid: ${this.mode} -> ${mode}; restarting it`);
    // Leaving maintenance: apid stops at once (SIGTERM: its listener closes, open connections
    // get GOAWAY, the call under way, this apply, still answers through it) and this waits until
    // nothing accepts connections there any more, so the answer leaves only after the listener
    // that asked for no certificate is gone. init refuses apid's maintenance mark from the
    // commit on (Machine.maintenanceOpen), which holds even if this wait runs out.
    const pid = supervisor.status("apid").pid;
    supervisor.restart("apid").catch((err) => log.error(`restarting apid: ${errText(err)}`));
    const how = await listenerClosed(api.listen, pid, APID_STOP_WAIT_MS);
    if (how === "timeout") log.warn(`apid still accepts connections on ${api.listen} ${APID_STOP_WAIT_MS} ms after SIGTERM; calls without a certificate are refused by init regardless`);
  }

  stop(): void {
    this.stopAddressWatch();
    this.certs.stop();
  }
}
