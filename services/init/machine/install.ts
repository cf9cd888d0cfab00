/**
 * A node not yet installed (booted from an ISO or the network) whose config names an install
 * disk installs itself there (the work is nodeinstall.ts's) and reboots into it. A refusal never
 * fails the boot: the node stays up from its boot medium, and the reason is on the console, in
 * the events and in MachineStage.
 */
import { rmSync } from "node:fs";
import { findBootMedium } from "../bootmedium.ts";
import type { EventHistory } from "../events.ts";
import { errText, log } from "../log.ts";
import { installNode, installSection, NO_IMAGE_URL } from "../nodeinstall.ts";
import type { CheckedConfig } from "../config.ts";
import { PreemptedError, type SequenceName } from "../sequencer.ts";
import type { MachineOptions } from "./options.ts";
import { progress, scratch } from "./scratch.ts";

/** After an apply-config that asks for an install, the install waits this long so the answer gets out first. */
const ANSWER_FIRST_DELAY_MS = 500;

export interface ConfigInstallDeps {
  opts: Pick<MachineOptions, "mode" | "install" | "installFromConfig" | "bootMedium" | "imageKey" | "workDir">;
  events: EventHistory;
  /** The applied config, secrets included. */
  config(): CheckedConfig | undefined;
  request(name: SequenceName): Promise<void>;
  /** The refusal changed: publish the stage again, with it. */
  restage(): void;
}

export class ConfigInstall {
  /** Why the install from machine.install was refused (the node stays up from its boot medium). */
  error: string | undefined;
  private medium: string | null | undefined;

  constructor(private readonly d: ConfigInstallDeps) {}

  /** Not booted from an installed disk, and allowed to install (a node; --install-disk in container mode). */
  allowed(): boolean {
    const { opts } = this.d;
    return !opts.install && opts.installFromConfig !== undefined && opts.installFromConfig !== false;
  }

  /** After an apply-config: the install sequence, when the config now asks for one. */
  queue(): void {
    const spec = this.d.config();
    const section = spec ? installSection(spec) : null;
    if (!section) return;
    if (!section.image && !this.bootMedium()) { this.noImage(); return; }
    this.error = undefined;
    setTimeout(() => {
      // A good install ends preempted by its own reboot: that is no error.
      this.d.request("install").catch((err) => { if (!(err instanceof PreemptedError)) log.error(`install: ${errText(err)}`); });
    }, ANSWER_FIRST_DELAY_MS);
  }

  /** The boot medium to install the running image from (found once), or null. */
  private bootMedium(): string | null {
    const { opts } = this.d;
    if (this.medium === undefined) this.medium = opts.bootMedium !== undefined ? opts.bootMedium : opts.mode === "metal" ? findBootMedium() : null;
    return this.medium;
  }

  /** A disk named but no image to install: the node runs from its boot medium, and says why. */
  private noImage(): void {
    this.error = undefined;
    log.info(`not installing: ${NO_IMAGE_URL}`);
    this.d.events.add("install", `not installing: ${NO_IMAGE_URL}`);
  }

  /**
   * The install sequence's task. After a good install it reboots and waits here for the reboot
   * to stop it.
   */
  async run(signal: AbortSignal): Promise<void> {
    const { opts, events } = this.d;
    const spec = this.d.config();
    const section = spec ? installSection(spec) : null;
    if (!spec || !section) return;
    const medium = section.image ? null : this.bootMedium();
    if (!section.image && !medium) { this.noImage(); return; }
    const say = progress(events, "install");
    const work = scratch(opts.workDir, "install");
    try {
      const r = await installNode({
        section, configText: spec.raw, key: opts.imageKey, work, signal, progress: say,
        diskOverride: typeof opts.installFromConfig === "string" ? opts.installFromConfig : undefined, medium,
      });
      say(`installed ${r.version} to slot ${r.slot} of ${r.disk} (${r.partitions} partitions${r.wiped.length ? `; wiped ${r.wiped.join(", ")}` : ""}), with the config in STATE; rebooting into it`);
    } catch (err) {
      if (signal.aborted) throw err;
      // The message alone: a refusal is an answer for the operator, not a crash to debug.
      this.error = `install refused: ${err instanceof Error ? err.message : String(err)}`;
      log.error(`${this.error}; the node stays up from its boot medium`);
      events.add("install", this.error);
      this.d.restage();
      return;
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
    // The reboot preempts this boot sequence; until it does, nothing else of the boot runs.
    setTimeout(() => { this.d.request("reboot").catch((err) => log.error(`install: reboot: ${errText(err)}`)); }, 0);
    await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
    throw signal.reason;
  }
}
