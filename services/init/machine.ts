/**
 * The machine: one store, one controller runtime, one supervisor, one sequencer, and the
 * sequences that drive them. The same code runs as PID 1 on a node (mode "metal") and as an
 * ordinary process on a host (mode "container"), where nothing is mounted and power actions end
 * the process with a documented exit code instead of calling reboot(2).
 */
import { chmodSync, chownSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync, openSync, fsyncSync, closeSync, readFileSync, existsSync } from "node:fs";
import { createHash, type KeyObject } from "node:crypto";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Label } from "../../core/disklayout/plan.ts";
import { downloadImage, ImageError } from "../../core/install/download.ts";
import { otherSlot, type Slot } from "../../core/install/grub.ts";
import { RESETTABLE, type ResettableLabel } from "../../core/install/reset.ts";
import { markSlotFailed, rollbackRunning } from "../../core/install/running.ts";
import { runDiskJob } from "./diskjob.ts";
import { DEFAULT_BOOT_DEADLINE, TrialDeadline } from "./deadline.ts";
import { durationMs } from "../../core/config/forms.ts";
import { belowFloor, floorOf, raiseFloorOf, slotSecurityVersion } from "../../core/install/antirollback.ts";
import { securityVersionOf } from "../../core/image/manifest.ts";
import { mountVolume } from "../../core/install/volume.ts";
import { writeAtomic } from "../../core/fileio/atomic.ts";
import { confirmSlot } from "./bootslot.ts";
import { installNode, installSection, NO_IMAGE_URL } from "./nodeinstall.ts";
import { findBootMedium } from "./bootmedium.ts";
import { MS } from "../../core/sys/mount.ts";
import { ControllerRuntime, Store, type Kind } from "../../core/resources/index.ts";
import { libc } from "../../core/sys/libc.ts";
import { isOurChild } from "./children.ts";
import type { MachineConfig } from "../../core/config/config.ts";
import { cmdlineConfigURL, loadBootConfig, parseMachineConfig, publishedConfig } from "./config.ts";
import { scrubText } from "../../core/config/redact.ts";
import { waitForGlobalAddress } from "./network-first.ts";
import { hostnameController, machineStatusController, networkConfigController, networkStatusController } from "./controllers.ts";
import { EventHistory } from "./events.ts";
import { loadInjectedServices } from "./injected.ts";
import { errText, log } from "./log.ts";
import * as pid1 from "./pid1.ts";
import { Reaper } from "./reaper.ts";
import {
  API_CERT_STATUS, type ApiCertStatusSpec, BOOT_STATUS, HOSTNAME, INIT_STATUS, type BootStatusSpec, MACHINE_CONFIG, MACHINE_STAGE, registerInitDefinitions,
  type HostnameSpec, type InitStatusSpec, type MachineConfigSpec, type MachineStageSpec, type Stage,
} from "./resources.ts";
import { PreemptedError, Sequencer, type Phase, type SequenceName, type Task } from "./sequencer.ts";
import { Supervisor } from "./supervisor.ts";
import { accessProblems, type Reacher, ServiceAccessError } from "./access.ts";
import { applySysctls, KSPP_SYSCTLS } from "./sysctl.ts";
import { LogShipping } from "./logship.ts";
import { serviceTable } from "./table.ts";
import type { PublisherEntry } from "./api/publisher.ts";
import { ApiCertificates, type ApidMode } from "./apicerts.ts";
import { apidService, listenerClosed } from "./apid.ts";
import { configMembers, joinedMembers, writeMembers } from "./apidmembers.ts";
import { compactFingerprint, opensslFingerprint } from "../../core/pki/fingerprint.ts";
import { joinedNodes, trustdSecrets, trustdSecretsPath, trustdService, writeTrustdSecrets, type TrustdPlan } from "./trustd.ts";
import { TRUSTD_NODES, TRUSTD_STATUSES, type TrustdStatusSpec } from "../../core/api/trustdstatus.ts";
import { ADDRESS_STATUSES } from "../../core/netresources/kinds.ts";
import { EtcdNode, type EtcdOptions } from "./etcd.ts";
import { ETCD_MEMBERS, ETCD_STATUS, type EtcdMemberSpec, type EtcdStatusSpec } from "./resources.ts";

const SIGHUP = 1;
/** After an apply-config that asks for an install, the install waits this long so the answer gets out first. */
const APID_RESTART_DELAY_MS = 500;
/** How long an apply that leaves maintenance waits for apid's insecure listener to close. */
const APID_STOP_WAIT_MS = 3000;
/** Address changes come in bursts (a lease: address, then routes); re-issue once they settle. */
const ADDRESS_SETTLE_MS = 300;
/** How long a cmdline config fetch waits for networkd's first global address (DHCP) before trying anyway. */
const NETWORK_WAIT_MS = 60_000;

export type Mode = "metal" | "container";
/** "fatal" is the reboot after an unrecoverable error (its own exit code in container mode). */
export type PowerRequest = "reboot" | "poweroff" | "fatal";

/** How init ends in container mode; a node reboots or powers off instead. */
export const EXIT = { poweroff: 11, reboot: 10, fatal: 12 } as const;

export interface MachineOptions {
  mode: Mode;
  /** Persistent state: the saved config. */
  stateDir: string;
  /** The API socket's folder. */
  runDir: string;
  configFile?: string;
  /** container mode: extra services from a file. */
  servicesFile?: string;
  /** container mode: leave out the built-in service table. */
  noTable?: boolean;
  /** Container mode: networkd may configure the network (the node has a namespace of its own). */
  manageNetwork?: boolean;
  /** container mode test hook: a controller that always throws. */
  faultyController?: boolean;
  /** Serves the local API; called once the run directory exists (after the system phase). */
  startApi?: () => Promise<void> | void;
  /** Run apid (the TCP API) as a service: where it listens, as whom, and how long its certificates live. */
  api?: { listen: string; uid?: number; gid?: number; certLifetimeMs?: number };
  /** Run trustd (control planes only; skipped on a worker): where it listens, as whom, how long what it signs lives. */
  trustd?: { listen: string; uid?: number; gid?: number; lifetimeMs?: number };
  /** Worker: the port trustd listens on at the control planes (default 50001). */
  trustdPort?: number;
  /** Run etcd on a control plane (skipped on a worker and where no etcd binary is): its data, ports and uid. */
  etcd?: { dataDir: string; clientPort?: number; peerPort?: number; uid?: number; gid?: number; extension?: EtcdOptions["extension"] };
  /** Ends the machine: called after the shutdown/reboot sequence has stopped everything. */
  onPower: (action: PowerRequest) => void;
  /**
   * The install disk and the slot this boot runs from (bunker.slot= on a node; flags in container
   * mode). Without it Upgrade, Rollback and volume wipes are refused: there is no disk to act on.
   */
  install?: { disk: string; slot: Slot };
  /** metal: keep the state dir on the install disk's STATE volume (mounted at boot). */
  stateOnDisk?: boolean;
  /** The key an upgrade image's manifest must be signed with (the running image's own). */
  imageKey?: KeyObject;
  /** Where upgrades download to and volumes are mounted for a while (a tmpfs on a node). */
  workDir?: string;
  /** The running image's version (its signed root manifest), for the BootStatus resource. */
  imageVersion?: string;
  /**
   * The running image's security version (its signed root manifest): once this boot is
   * confirmed, META's anti-rollback floor rises to it. Unset: the floor is left alone.
   */
  imageSecurityVersion?: number;
  /** This boot is an upgrade's trial (bunker.trial=1): a boot deadline is armed until ready. */
  trial?: boolean;
  /** container mode test hook: the boot sequence blocks its thread for good before the slot is confirmed. */
  hangBeforeReady?: boolean;
  /**
   * May install itself on the disk of machine.install (a node booted from an ISO or the network).
   * A string: container mode's stand-in for that disk (a disk image file).
   */
  installFromConfig?: boolean | string;
  /**
   * The boot medium an empty machine.install.image installs from: a node looks for Bunker's
   * ISO (bootmedium.ts) when this is undefined; a string is container mode's stand-in (an ISO
   * file), null: none.
   */
  bootMedium?: string | null;
}

/** Why Upgrade and Rollback are refused on a node not booted from an installed disk. */
export const NOT_INSTALLED = "this node was not booted from an installed disk (no bunker.slot= on the kernel command line): there is no inactive slot to write or to roll back to; install it first (machine.install.disk, or bunker partition install)";

export class Machine {
  readonly store = new Store({ onWatcherError: (e) => log.error(`watch callback failed: ${errText(e)}`) });
  readonly events = new EventHistory(this.store);
  readonly runtime: ControllerRuntime;
  readonly supervisor: Supervisor;
  readonly sequencer: Sequencer;
  readonly reaper = new Reaper(isOurChild);
  /** machine.logging.destinations: service and kernel lines shipped as JSON lines. */
  readonly logShipping: LogShipping;
  private powering = false;
  private statusTimer: ReturnType<typeof setInterval> | undefined;
  /** apid's certificates (when apid runs) and the mode it was last started in. */
  apiCerts: ApiCertificates | undefined;
  private apidMode: ApidMode | undefined;
  private stopAddressWatch: (() => void) | undefined;
  private lastInitStatus = "";
  /** Whether the state dir is the install disk's STATE (mounted at boot), else a tmpfs or a plain folder. */
  stateMounted = false;

  constructor(readonly opts: MachineOptions) {
    registerInitDefinitions(this.store);
    this.runtime = new ControllerRuntime(this.store, {
      backoffMaxMs: 30_000,
      onError: (name, err, delay) => log.error(`controller ${name} failed (retry in ${delay} ms): ${err instanceof Error ? err.message : String(err)}`),
    });
    this.logShipping = new LogShipping({
      store: this.store, hostname: () => this.hostname(), log,
      kmsgPath: opts.mode === "metal" ? "/dev/kmsg" : undefined,
    });
    this.supervisor = new Supervisor({
      store: this.store,
      onOutput: (id, chunk, stream, time) => this.logShipping.serviceOutput(id, chunk, stream, time),
      cgroupRoot: opts.mode === "metal" && pid1.cgroupsAvailable() ? pid1.SERVICE_CGROUP_ROOT : undefined,
      onEvent: (id, ev, output) => {
        log.info(`service ${id}: ${ev.state}: ${ev.message}`);
        // Why it failed is usually in its last words: the console is where an operator looks first.
        if (output?.length) {
          log.warn(`service ${id}: its last ${output.length === 1 ? "line" : `${output.length} lines`} before it ${ev.message}:`);
          for (const line of output) log.warn(`service ${id} | ${line}`);
        } else if (output) log.warn(`service ${id}: it wrote nothing before it ${ev.message}`);
        this.events.add(`service/${id}`, `${ev.state}: ${ev.message}`);
      },
    });
    this.sequencer = new Sequencer({
      store: this.store,
      onEvent: (message, data) => { log.info(message); this.events.add("sequencer", message, data); },
    });
    this.defineSequences();
  }

  get savedConfigPath(): string { return join(this.opts.stateDir, "config.yaml"); }
  get socketPath(): string { return join(this.opts.runDir, "init.sock"); }

  /** The applied config, secrets included (see machineConfig()). */
  private config: MachineConfigSpec | undefined;
  /** A first config is being committed (or was): nothing that came without a certificate is served from then on. */
  private maintenanceClosed = false;
  /** The boot config source's error, kept until a config is applied. */
  private configError: string | undefined;
  /** Why the install from machine.install was refused (the node stays up from its boot medium). */
  private installError: string | undefined;

  setStage(stage: Stage, configError?: string): void {
    const ie = this.installError;
    this.store.modify<MachineStageSpec>(MACHINE_STAGE, () => ({ stage, ...(configError ? { configError } : {}), ...(ie ? { installError: ie } : {}) }), { owner: "sequencer" });
  }

  stage(): Stage {
    return this.store.get<MachineStageSpec>(MACHINE_STAGE)?.spec.stage ?? "booting";
  }

  /** Starts the reaper and controllers, declares services, and runs the boot sequence. */
  async boot(): Promise<void> {
    this.setStage("booting");
    this.reaper.start();
    this.publishInitStatus();
    this.statusTimer = setInterval(() => this.publishInitStatus(), 1000);
    this.statusTimer.unref?.();
    this.runtime.register(machineStatusController);
    this.runtime.register(networkConfigController);
    this.runtime.register(networkStatusController);
    this.runtime.register(hostnameController(defaultHostname(), this.opts.mode === "metal" ? (h) => pid1.setHostname(h.hostname, h.domainname) : undefined));
    if (this.opts.faultyController) {
      this.runtime.register({ name: "faulty", inputs: [], outputs: [], reconcile() { throw new Error("this controller always throws (test hook)"); } });
    }
    if (!this.opts.noTable) {
      const networkStateDir = this.opts.mode === "metal" ? "/run/network" : join(this.opts.stateDir, "network");
      for (const s of serviceTable(this.store, { mode: this.opts.mode, socketPath: this.socketPath, networkStateDir, manageNetwork: this.opts.manageNetwork === true })) this.supervisor.add(s);
    }
    if (this.opts.api) this.addApid(this.opts.api);
    if (this.opts.trustd) this.addTrustd(this.opts.trustd);
    if (this.opts.etcd) this.addEtcd(this.opts.etcd);
    if (this.opts.servicesFile) for (const s of loadInjectedServices(this.opts.servicesFile, this.store)) this.supervisor.add(s);
    if (this.opts.mode === "container") this.checkServiceAccess();
    // Before anything of the boot that could hang: the default deadline, until the config says.
    this.armDeadline(undefined);
    await this.sequencer.run("boot");
  }

  /** The trial boot's deadline (deadline.ts); undefined on any other boot. */
  private deadline: TrialDeadline | undefined;

  /** Arms (or re-arms) the trial's deadline from machine.install.bootDeadline of `config` (default when absent). */
  private armDeadline(config: Record<string, unknown> | undefined): void {
    if (!this.opts.trial || !this.opts.install) return;
    const text = (config?.machine as { install?: { bootDeadline?: string } } | undefined)?.install?.bootDeadline ?? DEFAULT_BOOT_DEADLINE;
    const ms = durationMs(text);
    this.deadline ??= new TrialDeadline(this.opts.mode);
    if (this.deadline.ms === ms) return;
    const left = this.deadline.arm(ms);
    const { slot } = this.opts.install;
    const said = `trial boot of slot ${slot}: ready within ${text} of boot start (${Math.round(left / 1000)} s from now), else the node reboots into slot ${otherSlot(slot)}`;
    log.info(`boot deadline: ${said}`);
    this.events.add("upgrade", `boot deadline: ${said}`, { deadlineMs: ms });
  }

  /**
   * Container mode: every service that runs as its own uid must get through the state dir's
   * parents and to its program, or it would exit at every start; throws ServiceAccessError
   * naming the folder and what to change. (A node's folders are init's own: nothing to check.)
   */
  private checkServiceAccess(): void {
    mkdirSync(this.opts.stateDir, { recursive: true });
    const own = process.getuid?.();
    const reachers: Reacher[] = [];
    for (const id of this.supervisor.ids()) {
      const spec = this.supervisor.spec(id);
      const uid = spec.runner.uid;
      if (uid === undefined || uid === own || spec.skip?.()) continue;
      const folders = [...new Set([this.opts.runDir, this.opts.stateDir])].map((path) => ({ what: `the state dir ${path}`, path }));
      reachers.push({ id, uid, gid: spec.runner.gid ?? uid, folders, program: spec.runner.argv[0] });
    }
    const problems = accessProblems(reachers);
    if (problems.length) throw new ServiceAccessError(problems);
  }

  /** Writes the InitStatus resource when a counter changed (a write per second at most). */
  publishInitStatus(): void {
    const spec: InitStatusSpec = {
      pid: process.pid, mode: this.opts.mode, reaped: this.reaper.count, sequence: this.sequencer.running() ?? null,
      controllers: this.runtime.status().map((c) => ({ name: c.name, runs: c.runs, failures: c.failures, ...(c.lastError ? { lastError: c.lastError } : {}) })),
    };
    const text = JSON.stringify(spec);
    if (text === this.lastInitStatus) return;
    this.lastInitStatus = text;
    this.store.modify<InitStatusSpec>(INIT_STATUS, () => spec, { owner: "init" });
  }

  private addApid(api: NonNullable<MachineOptions["api"]>): void {
    const certs = new ApiCertificates({
      dir: join(this.opts.runDir, "apid"), uid: api.uid, gid: api.gid, lifetimeMs: api.certLifetimeMs,
      onRenewed: () => {
        log.info("api certificates renewed; apid reloads them (SIGHUP)");
        this.supervisor.signal("apid", SIGHUP);
      },
      onError: (err) => log.error(`api certificates: ${errText(err)}`),
      trustdPort: this.opts.trustdPort, apiPort: Number(/:(\d+)$/.exec(api.listen)?.[1]) || undefined,
      onStatus: (spec) => {
        const before = this.store.get<ApiCertStatusSpec>(API_CERT_STATUS)?.spec;
        this.store.modify<ApiCertStatusSpec>(API_CERT_STATUS, () => spec, { owner: "init" });
        // Events on changes of state only, not on each retry of the same failure.
        if (spec.signer === "trustd" && (before?.signer !== "trustd" || before.error)) this.events.add("apid", `certificate signed by trustd at ${spec.from}, valid until ${spec.notAfter}`);
        if (spec.error && !before?.error) this.events.add("apid", `trustd has not signed apid's certificate: ${spec.error}`);
      },
      // No CA vouches for maintenance mode's self-signed certificate: the console says which it is.
      onIssued: (mode, fp) => { if (mode === "maintenance") log.info(`apid: maintenance certificate SHA-256 fingerprint ${opensslFingerprint(fp)} (${compactFingerprint(fp)}); check it with bunkerctl --insecure --fingerprint`); },
    });
    this.apiCerts = certs;
    // apid starts at once, not after networkd: its certificate follows the addresses instead.
    this.supervisor.add(apidService({
      listen: api.listen, socket: this.socketPath, certs, uid: api.uid, gid: api.gid, members: this.apidMembersPath,
      oomScoreAdj: this.opts.mode === "metal" ? -998 : undefined,
      prepare: () => {
        this.apidMode = certs.issue(this.currentConfig(), this.hostname());
        this.writeApidMembers();
        return this.apidMode;
      },
    }));
    // An address that arrives later (a DHCP lease, a static one networkd applies, a change) must
    // be in the server certificate: clients dial it and check it against the SANs.
    let settle: ReturnType<typeof setTimeout> | undefined;
    const stop = this.store.watch(ADDRESS_STATUSES, () => {
      clearTimeout(settle);
      settle = setTimeout(() => {
        if (this.apidMode === undefined || !certs.addressesChanged()) return;
        log.info("node addresses changed: apid's certificate is re-issued to name them");
        this.refreshApid().catch((err) => log.error(`re-issuing apid's certificate: ${errText(err)}`));
      }, ADDRESS_SETTLE_MS);
    }, { tailOnly: true });
    this.stopAddressWatch = () => { clearTimeout(settle); stop(); };
  }

  /** Next to apid's certificates (the folder ApiCertificates makes, closed to others). */
  private get apidMembersPath(): string { return join(this.opts.runDir, "apid", "members"); }

  /**
   * The cluster members apid may relay to: from the current config, and the workers this node's
   * trustd signed for (still valid); apid reads them on start and SIGHUP.
   */
  private writeApidMembers(): void {
    const api = this.opts.api;
    const entries = [...configMembers(this.currentConfig()), ...joinedMembers(joinedNodes(this.store))];
    writeMembers(this.apidMembersPath, entries, api?.uid === undefined ? undefined : { uid: api.uid, gid: api.gid ?? api.uid });
  }

  private trustdPlan: TrustdPlan | undefined;
  private stopTrustdWatch: (() => void) | undefined;

  private addTrustd(t: NonNullable<MachineOptions["trustd"]>): void {
    const plan: TrustdPlan = {
      listen: t.listen, dir: join(this.opts.runDir, "trustd"), socket: this.socketPath, uid: t.uid, gid: t.gid, lifetimeMs: t.lifetimeMs,
      oomScoreAdj: this.opts.mode === "metal" ? -998 : undefined,
      current: () => ({ config: this.currentConfig(), hostname: this.hostname() }),
    };
    this.trustdPlan = plan;
    this.supervisor.add(trustdService(plan));
    // trustd's counts become events: who was refused and why, who got a certificate (no token, no key).
    let seen = { issued: 0, refused: 0 };
    this.stopTrustdWatch = this.store.watch(TRUSTD_STATUSES, (ev) => {
      if (ev.type !== "Created" && ev.type !== "Updated") return;
      const s = ev.resource.spec as TrustdStatusSpec;
      if (s.issued < seen.issued || s.refused < seen.refused) seen = { issued: 0, refused: 0 }; // trustd restarted
      if (s.refused > seen.refused && s.lastRefusal) {
        const n = s.refused - seen.refused;
        this.events.add("trustd", `refused ${n === 1 ? "a certificate request" : `${n} certificate requests`} from ${s.lastRefusal.peer}: ${s.lastRefusal.reason}`, { peer: s.lastRefusal.peer, count: n });
      }
      if (s.issued > seen.issued && s.lastIssue) {
        const i = s.lastIssue;
        this.events.add("trustd", `signed a node certificate for ${i.commonName} (${i.sans.join(", ")}), requested from ${i.peer}, valid until ${i.notAfter}`, { peer: i.peer, sans: i.sans });
      }
      seen = { issued: s.issued, refused: s.refused };
    }, { tailOnly: true });
    // A worker that joined is a member apid may relay to (`-n WORKER` through this node).
    const stopNodes = this.store.watch(TRUSTD_NODES, () => {
      if (this.apidMode === undefined || this.apidMode === "maintenance") return;
      this.writeApidMembers();
      this.supervisor.signal("apid", SIGHUP);
    }, { tailOnly: true });
    const stopStatus = this.stopTrustdWatch;
    this.stopTrustdWatch = () => { stopStatus(); stopNodes(); };
  }

  /** A config was applied: trustd follows it (a new token or CA: new secrets and SIGHUP; a new control plane: it starts). */
  private refreshTrustd(): void {
    const plan = this.trustdPlan;
    if (!plan) return;
    const state = this.supervisor.status("trustd").state;
    const { config, hostname } = plan.current();
    const secrets = trustdSecrets(config, hostname);
    if (typeof secrets === "string") return; // a worker now: trustd stays as it is until the next boot
    if (state === "Running") {
      writeTrustdSecrets(trustdSecretsPath(plan), secrets, plan.uid === undefined ? undefined : { uid: plan.uid, gid: plan.gid ?? plan.uid });
      this.supervisor.signal("trustd", SIGHUP);
    } else if (state === "Skipped") {
      this.supervisor.restart("trustd").catch((err) => log.error(`starting trustd: ${errText(err)}`));
    }
  }

  /** This control plane's etcd (bootstrap, join, members); undefined when init runs none. */
  etcd: EtcdNode | undefined;

  private addEtcd(e: NonNullable<MachineOptions["etcd"]>): void {
    const node = new EtcdNode({
      dataDir: e.dataDir, runDir: this.opts.runDir, clientPort: e.clientPort, peerPort: e.peerPort, uid: e.uid, gid: e.gid, extension: e.extension,
      current: () => ({ config: this.currentConfig(), hostname: this.hostname() }),
      start: () => this.supervisor.restart("etcd"),
      stop: () => this.supervisor.stop("etcd"),
      running: () => this.supervisor.status("etcd").state === "Running",
      onStatus: (spec) => this.store.modify<EtcdStatusSpec>(ETCD_STATUS, () => spec, { owner: "init" }),
      onEvent: (message) => { log.info(`etcd: ${message}`); this.events.add("etcd", message); },
      onError: (err) => log.error(`etcd: ${errText(err)}`),
      onMembers: (members) => {
        const ids = new Set(members.map((m) => m.id));
        for (const m of members) this.store.modify<EtcdMemberSpec>({ ...ETCD_MEMBERS, id: m.id }, () => m, { owner: "init" });
        for (const r of this.store.list(ETCD_MEMBERS)) if (!ids.has(r.metadata.id)) this.store.destroy({ ...ETCD_MEMBERS, id: r.metadata.id }, { owner: "init" });
      },
    });
    this.etcd = node;
    this.supervisor.add(node.service());
  }

  private currentConfig(): MachineConfig | undefined {
    return this.config?.config;
  }

  /**
   * The applied config with its secrets (CA keys, token, cluster secret): kept here, in init's
   * memory, for the code that needs them (apid's certificates, client credentials, the install).
   * The MachineConfig resource holds the redacted copy (config.ts publishedConfig): the store is
   * what the API serves, so no secret goes into it.
   */
  machineConfig(): MachineConfigSpec | undefined {
    return this.config;
  }

  private hostname(): string {
    return this.store.get<HostnameSpec>(HOSTNAME)?.spec.hostname ?? "bunker";
  }

  /**
   * A config was applied: apid's certificates follow it. Same mode: new files and SIGHUP (open
   * streams survive); another mode (leaving maintenance): apid restarts, after the answer left.
   */
  private async refreshApid(): Promise<void> {
    if (!this.apiCerts || this.apidMode === undefined) return; // apid has not started yet: its pre-start will do it
    const mode = this.apiCerts.issue(this.currentConfig(), this.hostname());
    this.writeApidMembers();
    if (mode === this.apidMode) { this.supervisor.signal("apid", SIGHUP); return; }
    log.info(`apid: ${this.apidMode} -> ${mode}; restarting it`);
    // Leaving maintenance: apid stops at once (SIGTERM: its listener closes, open connections
    // get GOAWAY, the call under way, this apply, still answers through it) and this waits until
    // nothing accepts connections there any more, so the answer leaves only after the listener
    // that asked for no certificate is gone. init refuses apid's maintenance mark from the
    // commit on (maintenanceOpen), which holds even if this wait runs out.
    const pid = this.supervisor.status("apid").pid;
    this.supervisor.restart("apid").catch((err) => log.error(`restarting apid: ${errText(err)}`));
    const how = await listenerClosed(this.opts.api!.listen, pid, APID_STOP_WAIT_MS);
    if (how === "timeout") log.warn(`apid still accepts connections on ${this.opts.api!.listen} ${APID_STOP_WAIT_MS} ms after SIGTERM; calls without a certificate are refused by init regardless`);
  }

  /**
   * Whether calls apid took without a client certificate (its maintenance mark) may be served:
   * only in maintenance mode, with no config, and before a first config started committing.
   * init's API checks this on every call (api/authorize.ts): it is the fence that holds while
   * apid, still in maintenance mode, is being stopped.
   */
  maintenanceOpen(): boolean {
    return !this.maintenanceClosed && this.config === undefined && this.stage() === "maintenance";
  }

  /**
   * Closes the maintenance window for a first config about to be committed; false when it was
   * already closed (another first config got there first: the maintenance apply is one-shot).
   * Synchronous, so two applies cannot both pass.
   */
  claimFirstConfig(): boolean {
    if (this.maintenanceClosed || this.config !== undefined) return false;
    this.maintenanceClosed = true;
    log.info("a first config is being committed: the maintenance window is closed");
    this.events.add("config", "maintenance window closed: a first config is being committed; calls without a client certificate are refused from now on");
    return true;
  }

  /** A first config failed before anything was kept: the node is still in maintenance and may take another. */
  releaseFirstConfig(): void {
    if (this.config !== undefined || existsSync(this.savedConfigPath)) return;
    this.maintenanceClosed = false;
    this.events.add("config", "the first config was not committed: the maintenance window is open again");
  }

  /** Stops the timers and controllers (tests that run a Machine inside their own process). */
  stopBackground(): void {
    clearInterval(this.statusTimer);
    this.deadline?.disarm();
    this.stopAddressWatch?.();
    this.stopTrustdWatch?.();
    this.etcd?.stop();
    this.apiCerts?.stop();
    void this.logShipping.stop();
    this.runtime.stop();
    this.reaper.stop();
  }

  private task(name: string, run: Task["run"]): Task {
    return { name, run };
  }

  private defineSequences(): void {
    const metal = this.opts.mode === "metal";
    const stopServices: Phase = { name: "stop-services", tasks: [this.task("stop-all", () => this.supervisor.stopAll())] };
    const power = (action: "reboot" | "poweroff"): Phase => ({ name: "power", tasks: [this.task(action, () => this.power(action))] });

    this.sequencer.define({
      name: "boot", preemptedBy: ["reboot", "shutdown", "reset"],
      phases: () => [
        { name: "system", tasks: metal ? [
          this.task("mount", () => pid1.mountLate()),
          this.task("kspp-sysctls", () => { for (const f of applySysctls(KSPP_SYSCTLS)) log.warn(f); }),
          this.task("cgroups", () => pid1.setupCgroups()),
          this.task("rlimits", () => pid1.setLimits()),
          this.task("ctrl-alt-del", () => pid1.disableCtrlAltDel()),
          this.task("state-volume", () => { this.mountState(); this.publishBootStatus(""); }),
        ] : [this.task("state-dir", () => { mkdirSync(this.opts.stateDir, { recursive: true }); this.publishBootStatus(""); })] },
        { name: "api", tasks: [this.task("serve", () => {
          // apid's and publishing services' uids (networkd) must reach the socket (and apid its
          // certificate folder inside, each closed to others).
          if (this.opts.api?.uid !== undefined || this.publishers().length) chmodSync(this.opts.runDir, 0o711);
          return this.opts.startApi?.();
        })] },
        { name: "config", tasks: [this.task("load-config", async ({ signal }) => {
          const cmdline = metal && existsSync("/proc/cmdline") ? readFileSync("/proc/cmdline", "utf8") : undefined;
          let cfg;
          if (cmdline !== undefined && this.opts.configFile === undefined && cmdlineConfigURL(cmdline) !== undefined && this.supervisor.has("networkd")) {
            this.supervisor.start("networkd");
            const addrs = await waitForGlobalAddress(this.store, NETWORK_WAIT_MS, signal);
            log.info(addrs.length ? `network up for the config fetch: ${addrs.join(", ")}` : `no global address after ${NETWORK_WAIT_MS} ms; fetching the config anyway`);
          }
          try {
            cfg = await loadBootConfig({ file: this.opts.configFile, cmdline, savedPath: this.savedConfigPath, mode: this.opts.mode }, {
              signal, onRetry: (i, e, d) => log.warn(`fetching the config: attempt ${i} failed (${e}), retrying in ${d} ms`),
            });
          } catch (err) {
            if (signal.aborted) throw err;
            // A broken config must not leave the node without its API and services: boot on in
            // maintenance mode, where a good config can be applied, and say why.
            // It lands in an event and MachineStage, which readers see: a config that does not
            // parse cannot be redacted by its schema, so what looks like a secret goes.
            this.configError = scrubText(err instanceof Error ? err.message : String(err));
            log.error(`${this.configError}; continuing in maintenance mode`);
            this.events.add("config", this.configError);
          }
          if (cfg) this.putConfig(cfg);
          else if (!this.configError) log.warn("no machine config: maintenance mode, waiting for apply-config");
          this.armDeadline(this.currentConfig());
        })] },
        { name: "apply-config", tasks: [this.task("config-sysctls", () => this.applyConfigSysctls()), this.task("log-shipping", () => this.configureLogShipping())] },
        // Not yet installed and the config names a disk: install there and reboot into it.
        ...(this.mayInstall() ? [{ name: "install", tasks: [this.task("install", ({ signal }) => this.installFromConfig(signal))] }] : []),
        { name: "services", tasks: [this.task("start-services", () => this.supervisor.start()), this.task("etcd", () => this.etcd?.configure())] },
        // Healthy enough to keep: the slot we booted from stays (a trial of a new slot becomes the slot).
        ...(this.opts.install ? [{ name: "boot-slot", tasks: [this.task("confirm", () => {
          if (this.opts.hangBeforeReady && this.opts.mode === "container") { log.warn("test hook: the boot hangs before ready"); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); }
          this.confirmSlot();
        })] }] : []),
        { name: "ready", tasks: [this.task("stage", () => {
          this.setStage(this.store.get(MACHINE_CONFIG) ? "running" : "maintenance", this.configError);
          if (this.deadline?.disarm()) {
            const said = `trial boot of slot ${this.opts.install!.slot} ready after ${Math.round(process.uptime())} s of init: deadline disarmed`;
            log.info(`boot deadline: ${said}`);
            this.events.add("upgrade", `boot deadline: ${said}`);
          }
        })] },
      ],
    });

    this.sequencer.define({
      name: "apply-config", preemptedBy: ["reboot", "shutdown", "reset"],
      // args.staged: save for the next boot only, change nothing now. args.spec: the config as the
      // API checked it (typed, off the event loop); without it the text is checked here, once.
      phases: (args) => [
        ...(args.spec ? [] : [{ name: "validate", tasks: [this.task("parse", ({ args: a }) => { a.spec = parseMachineConfig(String(a.raw ?? ""), "api", this.opts.mode); })] }]),
        // args.persist false (try mode): applied now, saved only once confirmed, so a reboot reverts it too.
        ...(args.persist === false ? [] : [{ name: "save", tasks: [this.task("write-state", () => writeAtomic(this.savedConfigPath, String(args.raw)))] }]),
        ...(args.staged ? [] : [
          { name: "apply", tasks: [
            this.task("store", () => this.putConfig(args.spec as MachineConfigSpec)),
            this.task("config-sysctls", () => this.applyConfigSysctls()),
            this.task("log-shipping", () => this.configureLogShipping()),
            this.task("api-certificates", () => this.refreshApid()),
            this.task("trustd", () => this.refreshTrustd()),
            this.task("etcd", () => this.etcd?.configure()),
          ] },
          { name: "ready", tasks: [this.task("stage", () => { this.configError = undefined; if (this.stage() === "maintenance") this.setStage("running"); })] },
          // A node not yet installed (booted from the ISO, in maintenance mode) given a config
          // that names an install disk: install once this answer has left (a sequence of its own).
          ...(this.mayInstall() ? [{ name: "install", tasks: [this.task("queue", () => this.queueInstall())] }] : []),
        ]),
      ],
    });

    const teardown = (stage: Stage, action: "reboot" | "poweroff", extra: Phase[] = []) => () => [
      { name: "stage", tasks: [this.task("stage", () => this.setStage(stage))] },
      stopServices,
      ...extra,
      power(action),
    ];
    this.sequencer.define({ name: "shutdown", preemptedBy: [], phases: teardown("shutting down", "poweroff") });
    this.sequencer.define({ name: "reboot", preemptedBy: [], phases: teardown("rebooting", "reboot") });
    this.sequencer.define({
      name: "reset", preemptedBy: [],
      // graceful: services stop in order before their data goes; otherwise the wipe comes first
      // and whatever still runs is stopped after it, on the way to the power action.
      phases: (args) => {
        const wipe: Phase = { name: "wipe", tasks: [this.task("volumes", ({ args: a, signal }) => this.wipeVolumes(a.volumes as ResettableLabel[] | undefined, signal))] };
        // graceful: a control plane leaves etcd first (as Talos does), so the others do not count
        // a wiped member towards their quorum; it joins again as new once configured again.
        const leave: Phase = { name: "etcd", tasks: [this.task("leave", async () => { this.events.add("etcd", `reset: ${await this.etcd!.leaveForReset()}`); })] };
        return [
          { name: "stage", tasks: [this.task("stage", () => this.setStage("resetting"))] },
          ...(args.graceful === false ? [wipe, stopServices] : [...(this.etcd ? [leave] : []), stopServices, wipe]),
          power(args.reboot === false ? "poweroff" : "reboot"),
        ];
      },
    });
    // Everything that can fail (the download, the signature, the write) happens before anything
    // stops: a refused upgrade leaves the node running as it was. The reboot is a separate request.
    this.sequencer.define({
      name: "upgrade", preemptedBy: [],
      phases: () => [{ name: "install", tasks: [this.task("image", ({ args, signal }) => this.upgradeImage(String(args.image ?? ""), signal, args.force === true))] }],
    });
    this.sequencer.define({
      name: "install", preemptedBy: ["reboot", "shutdown"],
      phases: () => [{ name: "install", tasks: [this.task("install", ({ signal }) => this.installFromConfig(signal))] }],
    });
    this.sequencer.define({
      name: "rollback", preemptedBy: [],
      phases: () => [{ name: "slot", tasks: [this.task("rollback", ({ args }) => {
        this.checkRollbackFloor(args.force === true);
        const r = rollbackRunning(this.installed().disk);
        this.events.add("upgrade", `rollback: slot ${r.slot} boots from now on (was ${r.from})`, { slot: r.slot });
      })] }],
    });
  }

  /** The BootStatus resource; `confirmation` is what init made of this boot on the disk. */
  publishBootStatus(confirmation: string): void {
    const i = this.opts.install;
    const spec: BootStatusSpec = {
      installed: i !== undefined, disk: i?.disk ?? "", slot: i?.slot ?? "", trial: this.opts.trial === true,
      image: this.opts.imageVersion ?? "", state: this.stateMounted ? "disk" : this.opts.mode === "metal" ? "memory" : "folder", confirmation,
    };
    this.store.modify<BootStatusSpec>(BOOT_STATUS, () => spec, { owner: "init" });
  }

  /** Confirms the boot slot on the disk (never fails the boot: a node that cannot write its disk still serves). */
  private confirmSlot(): void {
    const { disk, slot } = this.installed();
    let said: string;
    // The floor follows only a slot that is now the one that boots (not a fall-back, not a failed confirmation).
    let confirmed = false;
    try {
      const r = confirmSlot(disk, slot);
      said = r.message;
      if (r.outcome.kind === "fell-back") said += `; ${this.retireSlot(disk, r.outcome.failed)}`;
      else confirmed = true;
      log.info(`boot slot: ${said}`);
    } catch (err) { said = `could not confirm slot ${slot} on ${disk}: ${errText(err)}`; log.warn(`boot slot: ${said}`); }
    this.events.add("upgrade", `boot slot: ${said}`);
    this.publishBootStatus(said);
    if (confirmed) this.raiseSecurityFloor(disk);
  }

  /**
   * Anti-rollback: this boot is confirmed healthy, so the images below the one running may be
   * refused from now on. Only here (never when an image is staged): while a new slot is on
   * trial the old one must still boot, and a failed trial leaves the floor as it was.
   */
  private raiseSecurityFloor(disk: string): void {
    const v = this.opts.imageSecurityVersion;
    if (v === undefined) return;
    try {
      const r = raiseFloorOf(disk, v);
      if (r.to === r.from) return;
      const said = `security version floor raised from ${r.from} to ${r.to} (META): images below ${r.to} are refused unless forced`;
      log.info(`boot slot: ${said}`);
      this.events.add("upgrade", said, { floor: r.to, previous: r.from });
    } catch (err) {
      const said = `could not raise the security version floor to ${v}: ${errText(err)}`;
      log.warn(`boot slot: ${said}`);
      this.events.add("upgrade", said);
    }
  }

  /**
   * A rollback boots the other slot's image: below the floor it is refused as an upgrade to it
   * would be, unless forced (and then the event names both versions).
   */
  private checkRollbackFloor(force: boolean): void {
    const { disk, slot } = this.installed();
    const floor = floorOf(disk);
    if (floor === 0) return;
    const target = otherSlot(slot);
    const work = this.scratch("rollback");
    let version: number | null;
    try { version = slotSecurityVersion(disk, target, work, this.opts.imageKey); } finally { rmSync(work, { recursive: true, force: true }); }
    if (version === null) return; // no system there: the rollback itself refuses it, saying so
    if (belowFloor(version, floor, force, `slot ${target}`, "bunkerctl rollback --force")) this.forcedDowngrade("rollback", version, floor);
  }

  /** A deliberate downgrade below the floor: said in the log and as an event naming both versions. */
  private forcedDowngrade(what: "upgrade" | "rollback", version: number, floor: number): void {
    const said = `forced ${what} below the security version floor: image security version ${version} < floor ${floor}; installing it as asked (--force); the floor stays ${floor}`;
    log.warn(`${what}: ${said}`);
    this.events.add("upgrade", said, { securityVersion: version, floor, forced: true });
  }

  /** Marks a slot whose trial failed so it is never booted again; says what was done. */
  private retireSlot(disk: string, failed: Slot): string {
    const work = this.scratch("confirm");
    try {
      markSlotFailed(disk, failed, work);
      return `slot ${failed} relabelled FAILED-${failed}: rollback refuses it, the next upgrade rewrites it`;
    } catch (err) {
      return `could not relabel slot ${failed} (${errText(err)}): do not roll back to it`;
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }

  /** The install disk, or the refusal that names why there is none. */
  installed(): { disk: string; slot: Slot } {
    if (!this.opts.install) throw new Error(NOT_INSTALLED);
    return this.opts.install;
  }

  /** A scratch folder of its own under the work dir, removed by the caller. */
  private scratch(what: string): string {
    const base = this.opts.workDir ?? tmpdir();
    mkdirSync(base, { recursive: true, mode: 0o700 });
    return mkdtempSync(join(base, `${what}-`));
  }

  /** Progress of an upgrade, rollback or reset: the log, and events of source "upgrade" (bunkerctl follows them). */
  private progress(source: string): (line: string) => void {
    return (line) => { log.info(`${source}: ${line}`); this.events.add(source, line); };
  }

  private async upgradeImage(url: string, signal: AbortSignal, force: boolean): Promise<void> {
    const { disk, slot } = this.installed();
    if (!this.opts.imageKey) throw new Error("upgrade: this node has no trusted image key (etc/bunker/image.pub of its initramfs), so no image can be checked");
    let floor: number;
    // Unreadable META refuses the upgrade (its own write of META would fail too), before any download.
    try { floor = floorOf(disk); } catch (err) { throw new ImageError(`cannot check images against the security version floor: ${errText(err)}`, false); }
    const say = this.progress("upgrade");
    const work = this.scratch("upgrade");
    try {
      say(`fetching ${url}`);
      // Checked on the signed manifest, before the kernel and initramfs are fetched.
      const accept = (m: Parameters<typeof securityVersionOf>[0]) => {
        const v = securityVersionOf(m);
        if (belowFloor(v, floor, force, `image ${url}`, "bunkerctl upgrade --force")) this.forcedDowngrade("upgrade", v, floor);
      };
      const image = await downloadImage(url, join(work, "image"), this.opts.imageKey, { signal, progress: say, accept });
      // The slot's copy and fsyncs run in a child (diskjob.ts), which checks the folder again.
      const r = await runDiskJob({ kind: "upgrade", disk, booted: slot, image: image.dir, key: publicKeyPem(this.opts.imageKey), work }, { progress: say, signal });
      if (r.kind !== "upgrade") throw new Error(`upgrade: the disk job answered a ${r.kind} result`);
      say(`slot ${r.slot} holds ${image.manifest.build.version ?? "the new image"}; it boots once at the next reboot and is kept when healthy`);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }

  /** Not booted from an installed disk, and allowed to install (a node; --install-disk in container mode). */
  private mayInstall(): boolean {
    return !this.opts.install && this.opts.installFromConfig !== undefined && this.opts.installFromConfig !== false;
  }

  /** After an apply-config: the install sequence, when the config now asks for one. */
  private queueInstall(): void {
    const section = installSection(this.currentConfig());
    if (!section) return;
    if (!section.image && !this.bootMedium()) { this.noInstallImage(); return; }
    this.installError = undefined;
    setTimeout(() => {
      // A good install ends preempted by its own reboot: that is no error.
      this.request("install").catch((err) => { if (!(err instanceof PreemptedError)) log.error(`install: ${errText(err)}`); });
    }, APID_RESTART_DELAY_MS);
  }

  private medium: string | null | undefined;

  /** The boot medium to install the running image from (found once), or null. */
  private bootMedium(): string | null {
    if (this.medium === undefined) this.medium = this.opts.bootMedium !== undefined ? this.opts.bootMedium : this.opts.mode === "metal" ? findBootMedium() : null;
    return this.medium;
  }

  /** A disk named but no image to install: the node runs from its boot medium, and says why. */
  private noInstallImage(): void {
    this.installError = undefined;
    log.info(`not installing: ${NO_IMAGE_URL}`);
    this.events.add("install", `not installing: ${NO_IMAGE_URL}`);
  }

  /**
   * The install sequence (services/init/nodeinstall.ts). A refusal never fails the boot: the
   * node stays up from its boot medium, and the reason is on the console, in the events and in
   * MachineStatus. After a good install it reboots and waits here for the reboot to stop it.
   */
  private async installFromConfig(signal: AbortSignal): Promise<void> {
    const spec = this.config;
    const section = installSection(spec?.config);
    if (!spec || !section) return;
    const medium = section.image ? null : this.bootMedium();
    if (!section.image && !medium) { this.noInstallImage(); return; }
    const say = this.progress("install");
    const work = this.scratch("install");
    try {
      const r = await installNode({
        section, configText: spec.raw, key: this.opts.imageKey, work, signal, progress: say,
        diskOverride: typeof this.opts.installFromConfig === "string" ? this.opts.installFromConfig : undefined, medium,
      });
      say(`installed ${r.version} to slot ${r.slot} of ${r.disk} (${r.partitions} partitions${r.wiped.length ? `; wiped ${r.wiped.join(", ")}` : ""}), with the config in STATE; rebooting into it`);
    } catch (err) {
      if (signal.aborted) throw err;
      // The message alone: a refusal is an answer for the operator, not a crash to debug.
      this.installError = `install refused: ${err instanceof Error ? err.message : String(err)}`;
      log.error(`${this.installError}; the node stays up from its boot medium`);
      this.events.add("install", this.installError);
      this.setStage(this.stage());
      return;
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
    // The reboot preempts this boot sequence; until it does, nothing else of the boot runs.
    setTimeout(() => { this.request("reboot").catch((err) => log.error(`install: reboot: ${errText(err)}`)); }, 0);
    await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
    throw signal.reason;
  }

  /**
   * Reset's wipe: the install disk's volumes (empty = STATE and EPHEMERAL), and the saved config
   * wherever it is. The emptying runs in a child (diskjob.ts): a volume of many files takes long.
   */
  private async wipeVolumes(requested: ResettableLabel[] | undefined, signal: AbortSignal): Promise<void> {
    const volumes = requested?.length ? requested : [...RESETTABLE];
    const say = this.progress("reset");
    if (this.opts.install) {
      const work = this.scratch("reset");
      try {
        await runDiskJob({ kind: "reset", disk: this.opts.install.disk, volumes, mounted: this.stateMounted ? { [Label.STATE]: this.opts.stateDir } : {}, work }, { progress: say, signal });
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    } else if (volumes.includes(Label.EPHEMERAL)) {
      // Without a disk etcd's data is the one thing of EPHEMERAL's that outlives init (container
      // mode keeps it under the state dir): a reset node must come back without it.
      if (this.opts.etcd && existsSync(this.opts.etcd.dataDir)) {
        rmSync(this.opts.etcd.dataDir, { recursive: true, force: true });
        say("EPHEMERAL: no install disk; etcd's data wiped");
      } else say("EPHEMERAL: no install disk, nothing to wipe");
    }
    if (volumes.includes(Label.STATE)) {
      rmSync(this.savedConfigPath, { force: true });
      say("STATE: the saved config is gone; the next boot is in maintenance mode");
    }
  }

  /**
   * metal, booted from an installed disk: the state dir becomes the disk's STATE volume, so the
   * saved config survives a reboot. When it cannot be mounted the node boots on with the tmpfs
   * (and says so): a node that cannot keep its config is better than one that does not boot.
   */
  private mountState(): void {
    if (!this.opts.stateOnDisk || !this.opts.install) return;
    try {
      const v = mountVolume(this.opts.install.disk, Label.STATE, this.opts.stateDir, { flags: MS.NOSUID | MS.NODEV | MS.NOEXEC });
      chmodSync(this.opts.stateDir, 0o700);
      this.stateMounted = true;
      log.info(`state: ${v.device} (${v.fstype}, STATE of ${this.opts.install.disk}) on ${this.opts.stateDir}`);
    } catch (err) {
      const msg = `state: cannot mount STATE of ${this.opts.install.disk} (${errText(err)}); the config is kept in memory only and will not survive a reboot`;
      log.error(msg);
      this.events.add("state", msg);
    }
  }

  private putConfig(cfg: MachineConfigSpec): void {
    this.config = cfg;
    const published = publishedConfig(cfg);
    this.store.modify<MachineConfigSpec>(MACHINE_CONFIG, () => published, { owner: "" });
  }

  /** Log shipping follows the config; a destination it cannot use is logged, never a reason to fail a boot or an apply. */
  private configureLogShipping(): void {
    try {
      this.logShipping.configure(this.currentConfig());
    } catch (err) {
      const msg = `log shipping not changed: ${err instanceof Error ? err.message : String(err)}`;
      log.error(msg);
      this.events.add("logging", msg);
    }
  }

  private applyConfigSysctls(): void {
    const sysctls = this.config?.config.machine.sysctls ?? {};
    if (this.opts.mode !== "metal") {
      if (Object.keys(sysctls).length) log.info(`container mode: not applying ${Object.keys(sysctls).length} config sysctls`);
      return;
    }
    for (const f of applySysctls(sysctls)) log.warn(f);
  }

  private power(action: "reboot" | "poweroff"): void {
    if (this.powering) return;
    this.powering = true;
    this.sequencer.seal(this.sequencer.running() ?? (action === "reboot" ? "reboot" : "shutdown"));
    this.stopBackground();
    log.info(`power: ${action}`);
    this.opts.onPower(action);
  }

  /** A fatal error: log it, and reboot after 10 s (a node) or exit EXIT.fatal (container). */
  fatal(err: unknown, delayMs = 10_000): void {
    log.error(`fatal: ${errText(err)}; rebooting in ${delayMs / 1000} s`);
    if (this.powering) return;
    this.powering = true;
    // Flush what we can now: the error may recur and stop us before the delay ends.
    if (this.opts.mode === "metal") { try { libc().sync(); } catch { /* keep going to the reboot */ } }
    setTimeout(() => this.opts.onPower("fatal"), delayMs);
  }

  /**
   * Who may publish resources (ResourcePublisher): each service that declares kinds and runs as
   * a uid of its own. One without (root, or init's uid) could not be told from the console.
   */
  publishers(): PublisherEntry[] {
    const own = new Set([0, process.getuid?.() ?? 0]);
    const out: PublisherEntry[] = [];
    for (const id of this.supervisor.ids()) {
      const spec = this.supervisor.spec(id);
      if (spec.publishes?.length && spec.runner.uid !== undefined && !own.has(spec.runner.uid)) {
        out.push({ uid: spec.runner.uid, owner: id, kinds: spec.publishes });
      }
    }
    return out;
  }

  /** The publishing service running as `uid`, and what it may read (init's socket authorisation). */
  serviceOfUid(uid: number): { id: string; reads: readonly Kind[] } | undefined {
    const p = this.publishers().find((e) => e.uid === uid);
    return p ? { id: p.owner, reads: this.supervisor.spec(p.owner).reads ?? [] } : undefined;
  }

  /** Runs a sequence as the signals do; rejects with BusyError or the sequence's failure. */
  request(name: SequenceName, args: Record<string, unknown> = {}): Promise<void> {
    return this.sequencer.run(name, args);
  }
}

/** The image key as the disk job child takes it. */
function publicKeyPem(key: KeyObject): string {
  return key.export({ type: "spki", format: "pem" }).toString();
}

/** bunker-XXXXXX from the machine's DMI uuid (stable across reboots), or plain "bunker". */
function defaultHostname(): string {
  try {
    const id = readFileSync("/sys/class/dmi/id/product_uuid", "utf8").trim();
    if (id) return `bunker-${createHash("sha256").update(id).digest("hex").slice(0, 6)}`;
  } catch { /* not readable here */ }
  return "bunker";
}
