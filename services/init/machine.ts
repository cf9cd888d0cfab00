/**
 * The machine: one store, one controller runtime, one supervisor, one sequencer, and the
 * sequences that drive them. The same code runs as PID 1 on a node (mode "metal") and as an
 * ordinary process on a host (mode "container"), where nothing is mounted and power actions end
 * the process with a documented exit code instead of calling reboot(2).
 *
 * This file composes the parts in machine/: the options (options.ts), the sequence table
 * (sequences.ts), apid, trustd and etcd as init runs them (apidlink.ts, trustdlink.ts,
 * etcdlink.ts), the boot's config (bootconfig.ts), the trial boot (trial.ts), the slots
 * (slots.ts), the install from a config (install.ts), the volumes (volumes.ts) and the services'
 * uids (serviceuids.ts). What stays here is the state they share: the applied config, the
 * stage, the maintenance window and the power actions.
 */
import { chmodSync, mkdirSync, readFileSync, existsSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import type { MachineConfig } from "../../core/config/config.ts";
import { writeAtomic } from "../../core/fileio/atomic.ts";
import { ControllerRuntime, Store, type Kind } from "../../core/resources/index.ts";
import { libc } from "../../core/sys/libc.ts";
import type { PublisherEntry } from "./api/publisher.ts";
import type { ApiCertificates } from "./apicerts.ts";
import { isOurChild } from "./children.ts";
import { parseMachineConfig, publishedConfig, type CheckedConfig } from "./config.ts";
import { hostnameController, machineStatusController, networkConfigController, networkStatusController } from "./controllers.ts";
import type { EtcdNode } from "./etcd.ts";
import { EventHistory } from "./events.ts";
import { loadInjectedServices } from "./injected.ts";
import { errText, log } from "./log.ts";
import { LogShipping } from "./logship.ts";
import * as pid1 from "./pid1.ts";
import { Reaper } from "./reaper.ts";
import {
  BOOT_STATUS, HOSTNAME, INIT_STATUS, type BootStatusSpec, MACHINE_CONFIG, MACHINE_STAGE, registerInitDefinitions,
  type HostnameSpec, type InitStatusSpec, type MachineConfigSpec, type MachineStageSpec, type Stage,
} from "./resources.ts";
import { Sequencer, type SequenceName } from "./sequencer.ts";
import { Supervisor } from "./supervisor.ts";
import { applySysctls } from "./sysctl.ts";
import { serviceTable } from "./table.ts";
import { ApidLink } from "./machine/apidlink.ts";
import { loadConfigAtBoot } from "./machine/bootconfig.ts";
import { addEtcd } from "./machine/etcdlink.ts";
import { ConfigInstall } from "./machine/install.ts";
import type { MachineOptions } from "./machine/options.ts";
import { defineSequences, type MachineSteps } from "./machine/sequences.ts";
import { checkServiceAccess, publishers, serviceOfUid } from "./machine/serviceuids.ts";
import { Slots } from "./machine/slots.ts";
import { TrialBoot } from "./machine/trial.ts";
import { TrustdLink } from "./machine/trustdlink.ts";
import { mountState, mountVar, wipeVolumes } from "./machine/volumes.ts";

export { EXIT, NOT_INSTALLED, type MachineOptions, type Mode, type PowerRequest } from "./machine/options.ts";

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
  private apid: ApidLink | undefined;
  private trustd: TrustdLink | undefined;
  /** This control plane's etcd (bootstrap, join, members); undefined when init runs none. */
  etcd: EtcdNode | undefined;
  private readonly slots: Slots;
  private readonly selfInstall: ConfigInstall;
  private readonly trial: TrialBoot;
  private lastInitStatus = "";
  /** Whether the state dir is the install disk's STATE (mounted at boot), else a tmpfs or a plain folder. */
  stateMounted = false;
  /** metal: EPHEMERAL of the install disk is /var (else /var is a tmpfs). */
  varMounted = false;

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
    this.trial = new TrialBoot(opts, this.events);
    this.slots = new Slots({ opts, events: this.events, publishBootStatus: (said) => this.publishBootStatus(said) });
    this.selfInstall = new ConfigInstall({
      opts, events: this.events, config: () => this.config,
      request: (name) => this.request(name), restage: () => this.setStage(this.stage()),
    });
    defineSequences(this.sequencer, this.steps());
  }

  get savedConfigPath(): string { return join(this.opts.stateDir, "config.yaml"); }
  get socketPath(): string { return join(this.opts.runDir, "init.sock"); }
  /** apid's certificates, when apid runs. */
  get apiCerts(): ApiCertificates | undefined { return this.apid?.certs; }

  /** The applied config, secrets included (see machineConfig()). */
  private config: CheckedConfig | undefined;
  /** A first config is being committed (or was): nothing that came without a certificate is served from then on. */
  private maintenanceClosed = false;
  /** The boot config source's error, kept until a config is applied. */
  private configError: string | undefined;

  setStage(stage: Stage, configError?: string): void {
    const ie = this.selfInstall.error;
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
      for (const s of serviceTable(this.store, { mode: this.opts.mode, socketPath: this.socketPath, networkStateDir, manageNetwork: this.opts.manageNetwork === true, noDashboard: this.opts.noDashboard === true })) this.supervisor.add(s);
    }
    this.addClusterServices();
    if (this.opts.servicesFile) for (const s of loadInjectedServices(this.opts.servicesFile, this.store)) this.supervisor.add(s);
    if (this.opts.mode === "container") checkServiceAccess(this.supervisor, this.opts);
    // Before anything of the boot that could hang: the default deadline, until the config says.
    this.trial.arm();
    await this.sequencer.run("boot");
  }

  /** apid, trustd and etcd, each when its options ask for it. */
  private addClusterServices(): void {
    const shared = {
      store: this.store, events: this.events, supervisor: this.supervisor, opts: this.opts, socketPath: this.socketPath,
      currentConfig: () => this.currentConfig(), hostname: () => this.hostname(),
    };
    if (this.opts.api) this.apid = new ApidLink({ ...shared, api: this.opts.api });
    if (this.opts.trustd) this.trustd = new TrustdLink({ ...shared, trustd: this.opts.trustd, onNodesChanged: () => this.apid?.membersChanged() });
    if (this.opts.etcd) this.etcd = addEtcd({ ...shared, runDir: this.opts.runDir, etcd: this.opts.etcd });
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

  private currentConfig(): MachineConfig | undefined {
    return this.config?.config;
  }

  /**
   * The applied config with its secrets (CA keys, token, cluster secret): kept here, in init's
   * memory, for the code that needs them (apid's certificates, client credentials, the install).
   * The MachineConfig resource holds the redacted copy (config.ts publishedConfig): the store is
   * what the API serves, so no secret goes into it.
   */
  machineConfig(): CheckedConfig | undefined {
    return this.config;
  }

  private hostname(): string {
    return this.store.get<HostnameSpec>(HOSTNAME)?.spec.hostname ?? "bunker";
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
    this.trial.disarm();
    this.apid?.stop();
    this.trustd?.stop();
    this.etcd?.stop();
    void this.logShipping.stop();
    this.runtime.stop();
    this.reaper.stop();
  }

  /** What the sequence table's tasks do (machine/sequences.ts has the order). */
  private steps(): MachineSteps {
    const metal = this.opts.mode === "metal";
    return {
      metal,
      installed: this.opts.install !== undefined,
      mayInstall: () => this.selfInstall.allowed(),
      hasEtcd: () => this.etcd !== undefined,
      prepareState: () => {
        if (metal) {
          this.stateMounted = mountState(this.opts, this.events);
          this.varMounted = mountVar(this.opts, this.events);
        }
        else mkdirSync(this.opts.stateDir, { recursive: true });
        this.publishBootStatus("");
      },
      serveApi: () => {
        // apid's and publishing services' uids (networkd) must reach the socket (and apid its
        // certificate folder inside, each closed to others).
        if (this.opts.api?.uid !== undefined || this.publishers().length) chmodSync(this.opts.runDir, 0o711);
        return this.opts.startApi?.();
      },
      loadConfig: (signal) => this.loadConfig(signal),
      applyConfigSysctls: () => this.applyConfigSysctls(),
      configureLogShipping: () => this.configureLogShipping(),
      installFromConfig: (signal) => this.selfInstall.run(signal),
      startServices: () => this.supervisor.start(),
      configureEtcd: () => this.etcd?.configure(),
      confirmSlot: () => {
        if (this.opts.hangBeforeReady && this.opts.mode === "container") { log.warn("test hook: the boot hangs before ready"); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); }
        this.slots.confirm();
      },
      bootReady: () => {
        this.setStage(this.store.get(MACHINE_CONFIG) ? "running" : "maintenance", this.configError);
        this.trial.ready();
      },
      parseConfig: (raw) => parseMachineConfig(raw, "api", this.opts.mode),
      saveConfig: (raw) => writeAtomic(this.savedConfigPath, raw),
      putConfig: (spec) => this.putConfig(spec),
      refreshApid: async () => { await this.apid?.refresh(); },
      refreshTrustd: () => this.trustd?.refresh(),
      applyReady: () => { this.configError = undefined; if (this.stage() === "maintenance") this.setStage("running"); },
      queueInstall: () => this.selfInstall.queue(),
      setStage: (stage) => this.setStage(stage),
      stopServices: () => this.supervisor.stopAll(),
      power: (action) => this.power(action),
      wipeVolumes: (requested, signal) => wipeVolumes(this.opts, this.events, { requested, savedConfigPath: this.savedConfigPath, stateMounted: this.stateMounted, varMounted: this.varMounted, signal }),
      leaveEtcd: async () => { this.events.add("etcd", `reset: ${await this.etcd!.leaveForReset()}`); },
      upgradeImage: (url, signal, force) => this.slots.upgrade(url, signal, force),
      rollback: (force) => this.slots.rollback(force),
    };
  }

  /** The boot's config (machine/bootconfig.ts); without one the boot goes on in maintenance mode. */
  private async loadConfig(signal: AbortSignal): Promise<void> {
    const r = await loadConfigAtBoot({ opts: this.opts, store: this.store, events: this.events, supervisor: this.supervisor, savedConfigPath: this.savedConfigPath }, signal);
    this.configError = r.error;
    if (r.spec) this.putConfig(r.spec);
    this.trial.arm(this.config?.parsed.bootDeadline);
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

  private putConfig(cfg: CheckedConfig): void {
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

  /** Who may publish resources, and as which uid (machine/serviceuids.ts). */
  publishers(): PublisherEntry[] {
    return publishers(this.supervisor);
  }

  /** The publishing service running as `uid`, and what it may read (init's socket authorisation). */
  serviceOfUid(uid: number): { id: string; reads: readonly Kind[] } | undefined {
    return serviceOfUid(this.supervisor, uid);
  }

  /** Runs a sequence as the signals do; rejects with BusyError or the sequence's failure. */
  request(name: SequenceName, args: Record<string, unknown> = {}): Promise<void> {
    return this.sequencer.run(name, args);
  }
}

/** bunker-XXXXXX from the machine's DMI uuid (stable across reboots), or plain "bunker". */
function defaultHostname(): string {
  try {
    const id = readFileSync("/sys/class/dmi/id/product_uuid", "utf8").trim();
    if (id) return `bunker-${createHash("sha256").update(id).digest("hex").slice(0, 6)}`;
  } catch { /* not readable here */ }
  return "bunker";
}
