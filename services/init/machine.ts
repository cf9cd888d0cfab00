/**
 * The machine: one store, one controller runtime, one supervisor, one sequencer, and the
 * sequences that drive them. The same code runs as PID 1 on a node (mode "metal") and as an
 * ordinary process on a host (mode "container"), where nothing is mounted and power actions end
 * the process with a documented exit code instead of calling reboot(2).
 */
import { mkdirSync, renameSync, rmSync, writeFileSync, openSync, fsyncSync, closeSync, readFileSync, existsSync } from "node:fs";
import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { ControllerRuntime, Store } from "../../core/resources/index.ts";
import { libc } from "../../core/sys/libc.ts";
import { isOurChild } from "./children.ts";
import { loadBootConfig, parseMachineConfig } from "./config.ts";
import { hostnameController, machineStatusController } from "./controllers.ts";
import { EventHistory } from "./events.ts";
import { loadInjectedServices } from "./injected.ts";
import { errText, log } from "./log.ts";
import * as pid1 from "./pid1.ts";
import { Reaper } from "./reaper.ts";
import {
  MACHINE_CONFIG, MACHINE_STAGE, registerInitDefinitions,
  type MachineConfigSpec, type MachineStageSpec, type Stage,
} from "./resources.ts";
import { Sequencer, type Phase, type SequenceName, type Task } from "./sequencer.ts";
import { Supervisor } from "./supervisor.ts";
import { applySysctls, KSPP_SYSCTLS } from "./sysctl.ts";
import { serviceTable } from "./table.ts";

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
  /** container mode test hook: a controller that always throws. */
  faultyController?: boolean;
  /** Serves the local API; called once the run directory exists (after the system phase). */
  startApi?: () => void;
  /** Ends the machine: called after the shutdown/reboot sequence has stopped everything. */
  onPower: (action: PowerRequest) => void;
}

export class Machine {
  readonly store = new Store({ onWatcherError: (e) => log.error(`watch callback failed: ${errText(e)}`) });
  readonly events = new EventHistory(this.store);
  readonly runtime: ControllerRuntime;
  readonly supervisor: Supervisor;
  readonly sequencer: Sequencer;
  readonly reaper = new Reaper(isOurChild);
  private powering = false;

  constructor(readonly opts: MachineOptions) {
    registerInitDefinitions(this.store);
    this.runtime = new ControllerRuntime(this.store, {
      backoffMaxMs: 30_000,
      onError: (name, err, delay) => log.error(`controller ${name} failed (retry in ${delay} ms): ${err instanceof Error ? err.message : String(err)}`),
    });
    this.supervisor = new Supervisor({
      store: this.store,
      cgroupRoot: opts.mode === "metal" && pid1.cgroupsAvailable() ? pid1.SERVICE_CGROUP_ROOT : undefined,
      onEvent: (id, ev) => {
        log.info(`service ${id}: ${ev.state}: ${ev.message}`);
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

  /** The boot config source's error, kept until a config is applied. */
  private configError: string | undefined;

  setStage(stage: Stage, configError?: string): void {
    this.store.modify<MachineStageSpec>(MACHINE_STAGE, () => (configError ? { stage, configError } : { stage }), { owner: "sequencer" });
  }

  stage(): Stage {
    return this.store.get<MachineStageSpec>(MACHINE_STAGE)?.spec.stage ?? "booting";
  }

  /** Starts the reaper and controllers, declares services, and runs the boot sequence. */
  async boot(): Promise<void> {
    this.setStage("booting");
    this.reaper.start();
    this.runtime.register(machineStatusController);
    this.runtime.register(hostnameController(defaultHostname(), this.opts.mode === "metal" ? (h) => pid1.setHostname(h.hostname, h.domainname) : undefined));
    if (this.opts.faultyController) {
      this.runtime.register({ name: "faulty", inputs: [], outputs: [], reconcile() { throw new Error("this controller always throws (test hook)"); } });
    }
    if (!this.opts.noTable) for (const s of serviceTable(this.store)) this.supervisor.add(s);
    if (this.opts.servicesFile) for (const s of loadInjectedServices(this.opts.servicesFile, this.store)) this.supervisor.add(s);
    await this.sequencer.run("boot");
  }

  private task(name: string, run: Task["run"]): Task {
    return { name, run };
  }

  private defineSequences(): void {
    const metal = this.opts.mode === "metal";
    const stopServices: Phase = { name: "stop-services", tasks: [this.task("stop-all", () => this.supervisor.stopAll())] };
    const power = (action: "reboot" | "poweroff"): Phase => ({ name: "power", tasks: [this.task(action, () => this.power(action))] });

    this.sequencer.define({
      name: "boot", preemptedBy: ["reboot", "shutdown", "reset", "upgrade"],
      phases: () => [
        { name: "system", tasks: metal ? [
          this.task("mount", () => pid1.mountLate()),
          this.task("kspp-sysctls", () => { for (const f of applySysctls(KSPP_SYSCTLS)) log.warn(f); }),
          this.task("cgroups", () => pid1.setupCgroups()),
          this.task("rlimits", () => pid1.setLimits()),
          this.task("ctrl-alt-del", () => pid1.disableCtrlAltDel()),
        ] : [this.task("state-dir", () => { mkdirSync(this.opts.stateDir, { recursive: true }); })] },
        { name: "api", tasks: [this.task("serve", () => this.opts.startApi?.())] },
        { name: "config", tasks: [this.task("load-config", async ({ signal }) => {
          const cmdline = metal && existsSync("/proc/cmdline") ? readFileSync("/proc/cmdline", "utf8") : undefined;
          let cfg;
          try {
            cfg = await loadBootConfig({ file: this.opts.configFile, cmdline, savedPath: this.savedConfigPath }, {
              signal, onRetry: (i, e, d) => log.warn(`fetching the config: attempt ${i} failed (${e}), retrying in ${d} ms`),
            });
          } catch (err) {
            if (signal.aborted) throw err;
            // A broken config must not leave the node without its API and services: boot on in
            // maintenance mode, where a good config can be applied, and say why.
            this.configError = err instanceof Error ? err.message : String(err);
            log.error(`${this.configError}; continuing in maintenance mode`);
            this.events.add("config", this.configError);
          }
          if (cfg) this.putConfig(cfg);
          else if (!this.configError) log.warn("no machine config: maintenance mode, waiting for apply-config");
        })] },
        { name: "apply-config", tasks: [this.task("config-sysctls", () => this.applyConfigSysctls())] },
        { name: "services", tasks: [this.task("start-services", () => this.supervisor.start())] },
        { name: "ready", tasks: [this.task("stage", () => this.setStage(this.store.get(MACHINE_CONFIG) ? "running" : "maintenance", this.configError))] },
      ],
    });

    this.sequencer.define({
      name: "apply-config", preemptedBy: ["reboot", "shutdown", "reset"],
      // args.staged: save for the next boot only, change nothing now.
      phases: (args) => [
        { name: "validate", tasks: [this.task("parse", ({ args: a }) => { parseMachineConfig(String(a.raw ?? ""), "api"); })] },
        { name: "save", tasks: [this.task("write-state", () => writeAtomic(this.savedConfigPath, String(args.raw)))] },
        ...(args.staged ? [] : [
          { name: "apply", tasks: [
            this.task("store", () => this.putConfig(parseMachineConfig(String(args.raw), "api"))),
            this.task("config-sysctls", () => this.applyConfigSysctls()),
          ] },
          { name: "ready", tasks: [this.task("stage", () => { this.configError = undefined; if (this.stage() === "maintenance") this.setStage("running"); })] },
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
      phases: teardown("resetting", "reboot", [{ name: "wipe", tasks: [this.task("state", () => rmSync(this.savedConfigPath, { force: true }))] }]),
    });
    this.sequencer.define({
      name: "upgrade", preemptedBy: [],
      // Checked before anything stops: a refused upgrade leaves the node running as it was.
      phases: () => [{ name: "validate", tasks: [this.task("installer", () => {
        throw new Error("upgrade: installing a new image needs the installer, which this build does not have yet");
      })] }],
    });
  }

  private putConfig(cfg: MachineConfigSpec): void {
    this.store.modify<MachineConfigSpec>(MACHINE_CONFIG, () => cfg, { owner: "" });
  }

  private applyConfigSysctls(): void {
    const cfg = this.store.get<MachineConfigSpec>(MACHINE_CONFIG)?.spec.config as { machine?: { sysctls?: Record<string, string> } } | undefined;
    const sysctls = cfg?.machine?.sysctls ?? {};
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
    this.runtime.stop();
    this.reaper.stop();
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

  /** Runs a sequence as the signals do; rejects with BusyError or the sequence's failure. */
  request(name: SequenceName, args: Record<string, unknown> = {}): Promise<void> {
    return this.sequencer.run(name, args);
  }
}

/**
 * Written beside, fsynced, renamed, then the directory fsynced: a torn write leaves the old file
 * usable, and once this returns the new file survives a power cut (without the directory fsync
 * the rename can be lost: bench/crash.ts --qemu-rounds saw STATE one write behind what was
 * acknowledged).
 */
export function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode: 0o600 });
  const fd = openSync(tmp, "r");
  try { fsyncSync(fd); } finally { closeSync(fd); }
  renameSync(tmp, path);
  const dir = openSync(dirname(path), "r");
  try { fsyncSync(dir); } finally { closeSync(dir); }
}

/** bunker-XXXXXX from the machine's DMI uuid (stable across reboots), or plain "bunker". */
function defaultHostname(): string {
  try {
    const id = readFileSync("/sys/class/dmi/id/product_uuid", "utf8").trim();
    if (id) return `bunker-${createHash("sha256").update(id).digest("hex").slice(0, 6)}`;
  } catch { /* not readable here */ }
  return "bunker";
}
