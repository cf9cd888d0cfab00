/**
 * The sequence table: which phases and tasks boot, apply-config, shutdown, reboot, reset,
 * upgrade, install and rollback run, in what order, and what preempts what. What a task does is
 * the machine's (MachineSteps); here is only the order, so the whole life of a node reads in
 * one place.
 */
import type { ResettableLabel } from "../../../core/install/reset.ts";
import { log } from "../log.ts";
import * as pid1 from "../pid1.ts";
import type { CheckedConfig } from "../config.ts";
import type { Stage } from "../resources.ts";
import type { Phase, Sequencer, Task } from "../sequencer.ts";
import { applySysctls, KSPP_SYSCTLS } from "../sysctl.ts";

/** What the tasks of the table call; the Machine provides them. */
export interface MachineSteps {
  readonly metal: boolean;
  /** Booted from an installed disk: the boot confirms its slot. */
  readonly installed: boolean;
  /** May install itself from a config (not installed, allowed to). */
  mayInstall(): boolean;
  /** Runs etcd (a control plane): a graceful reset leaves it first. */
  hasEtcd(): boolean;

  /** The state dir is ready (STATE mounted on a node) and BootStatus says where it is. */
  prepareState(): void;
  serveApi(): Promise<void> | void;
  loadConfig(signal: AbortSignal): Promise<void>;
  applyConfigSysctls(): void;
  configureLogShipping(): void;
  installFromConfig(signal: AbortSignal): Promise<void>;
  startServices(): Promise<void> | void;
  configureEtcd(): Promise<void> | void;
  confirmSlot(): void;
  bootReady(): void;

  parseConfig(raw: string): CheckedConfig;
  saveConfig(raw: string): void;
  putConfig(spec: CheckedConfig): void;
  refreshApid(): Promise<void>;
  refreshTrustd(): void;
  applyReady(): void;
  queueInstall(): void;

  setStage(stage: Stage): void;
  stopServices(): Promise<void>;
  power(action: "reboot" | "poweroff"): void;
  wipeVolumes(requested: ResettableLabel[] | undefined, signal: AbortSignal): Promise<void>;
  leaveEtcd(): Promise<void>;
  upgradeImage(url: string, signal: AbortSignal, force: boolean): Promise<void>;
  rollback(force: boolean): void;
}

function task(name: string, run: Task["run"]): Task {
  return { name, run };
}

export function defineSequences(sequencer: Sequencer, s: MachineSteps): void {
  const stopServices: Phase = { name: "stop-services", tasks: [task("stop-all", () => s.stopServices())] };
  const power = (action: "reboot" | "poweroff"): Phase => ({ name: "power", tasks: [task(action, () => s.power(action))] });

  sequencer.define({
    name: "boot", preemptedBy: ["reboot", "shutdown", "reset"],
    phases: () => [
      { name: "system", tasks: s.metal ? [
        task("mount", () => pid1.mountLate()),
        task("kspp-sysctls", () => { for (const f of applySysctls(KSPP_SYSCTLS)) log.warn(f); }),
        task("cgroups", () => pid1.setupCgroups()),
        task("rlimits", () => pid1.setLimits()),
        task("ctrl-alt-del", () => pid1.disableCtrlAltDel()),
        task("state-volume", () => s.prepareState()),
      ] : [task("state-dir", () => s.prepareState())] },
      { name: "api", tasks: [task("serve", () => s.serveApi())] },
      { name: "config", tasks: [task("load-config", ({ signal }) => s.loadConfig(signal))] },
      { name: "apply-config", tasks: [task("config-sysctls", () => s.applyConfigSysctls()), task("log-shipping", () => s.configureLogShipping())] },
      // Not yet installed and the config names a disk: install there and reboot into it.
      ...(s.mayInstall() ? [{ name: "install", tasks: [task("install", ({ signal }) => s.installFromConfig(signal))] }] : []),
      { name: "services", tasks: [task("start-services", () => s.startServices()), task("etcd", () => s.configureEtcd())] },
      // Healthy enough to keep: the slot we booted from stays (a trial of a new slot becomes the slot).
      ...(s.installed ? [{ name: "boot-slot", tasks: [task("confirm", () => s.confirmSlot())] }] : []),
      { name: "ready", tasks: [task("stage", () => s.bootReady())] },
    ],
  });

  sequencer.define({
    name: "apply-config", preemptedBy: ["reboot", "shutdown", "reset"],
    // args.staged: save for the next boot only, change nothing now. args.spec: the config as the
    // API checked it (typed, off the event loop); without it the text is checked here, once.
    phases: (args) => [
      ...(args.spec ? [] : [{ name: "validate", tasks: [task("parse", ({ args: a }) => { a.spec = s.parseConfig(String(a.raw ?? "")); })] }]),
      // args.persist false (try mode): applied now, saved only once confirmed, so a reboot reverts it too.
      ...(args.persist === false ? [] : [{ name: "save", tasks: [task("write-state", () => s.saveConfig(String(args.raw)))] }]),
      ...(args.staged ? [] : [
        { name: "apply", tasks: [
          task("store", () => s.putConfig(args.spec as CheckedConfig)),
          task("config-sysctls", () => s.applyConfigSysctls()),
          task("log-shipping", () => s.configureLogShipping()),
          task("api-certificates", () => s.refreshApid()),
          task("trustd", () => s.refreshTrustd()),
          task("etcd", () => s.configureEtcd()),
        ] },
        { name: "ready", tasks: [task("stage", () => s.applyReady())] },
        // A node not yet installed (booted from the ISO, in maintenance mode) given a config
        // that names an install disk: install once this answer has left (a sequence of its own).
        ...(s.mayInstall() ? [{ name: "install", tasks: [task("queue", () => s.queueInstall())] }] : []),
      ]),
    ],
  });

  const teardown = (stage: Stage, action: "reboot" | "poweroff", extra: Phase[] = []) => () => [
    { name: "stage", tasks: [task("stage", () => s.setStage(stage))] },
    stopServices,
    ...extra,
    power(action),
  ];
  sequencer.define({ name: "shutdown", preemptedBy: [], phases: teardown("shutting down", "poweroff") });
  sequencer.define({ name: "reboot", preemptedBy: [], phases: teardown("rebooting", "reboot") });
  sequencer.define({
    name: "reset", preemptedBy: [],
    // graceful: services stop in order before their data goes; otherwise the wipe comes first
    // and whatever still runs is stopped after it, on the way to the power action.
    phases: (args) => {
      const wipe: Phase = { name: "wipe", tasks: [task("volumes", ({ args: a, signal }) => s.wipeVolumes(a.volumes as ResettableLabel[] | undefined, signal))] };
      // graceful: a control plane leaves etcd first (as Talos does), so the others do not count
      // a wiped member towards their quorum; it joins again as new once configured again.
      const leave: Phase = { name: "etcd", tasks: [task("leave", () => s.leaveEtcd())] };
      return [
        { name: "stage", tasks: [task("stage", () => s.setStage("resetting"))] },
        ...(args.graceful === false ? [wipe, stopServices] : [...(s.hasEtcd() ? [leave] : []), stopServices, wipe]),
        power(args.reboot === false ? "poweroff" : "reboot"),
      ];
    },
  });
  // Everything that can fail (the download, the signature, the write) happens before anything
  // stops: a refused upgrade leaves the node running as it was. The reboot is a separate request.
  sequencer.define({
    name: "upgrade", preemptedBy: [],
    phases: () => [{ name: "install", tasks: [task("image", ({ args, signal }) => s.upgradeImage(String(args.image ?? ""), signal, args.force === true))] }],
  });
  sequencer.define({
    name: "install", preemptedBy: ["reboot", "shutdown"],
    phases: () => [{ name: "install", tasks: [task("install", ({ signal }) => s.installFromConfig(signal))] }],
  });
  sequencer.define({
    name: "rollback", preemptedBy: [],
    phases: () => [{ name: "slot", tasks: [task("rollback", ({ args }) => s.rollback(args.force === true))] }],
  });
}
