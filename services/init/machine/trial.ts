/**
 * A trial boot (the first boot of an upgraded slot) as the machine sees it: its deadline armed
 * from machine.install.bootDeadline (the default before a config is read), and disarmed once the
 * boot is ready; both said in the log and as events of source "upgrade".
 */
import { DEFAULT_DEADLINE, type Duration } from "../../../core/config/config.ts";
import { otherSlot } from "../../../core/install/grub.ts";
import { TrialDeadline } from "../deadline.ts";
import type { EventHistory } from "../events.ts";
import { log } from "../log.ts";
import type { MachineOptions } from "./options.ts";

export class TrialBoot {
  /** The deadline child (deadline.ts); undefined until armed, and on any boot that is no trial. */
  private deadline: TrialDeadline | undefined;

  constructor(private readonly opts: Pick<MachineOptions, "trial" | "install" | "mode">, private readonly events: EventHistory) {}

  /** Arms (or re-arms) the deadline: machine.install.bootDeadline as the config's parsed view holds it (the default before a config). */
  arm(deadline: Duration = DEFAULT_DEADLINE): void {
    if (!this.opts.trial || !this.opts.install) return;
    const { text, ms } = deadline;
    this.deadline ??= new TrialDeadline(this.opts.mode);
    if (this.deadline.ms === ms) return;
    const left = this.deadline.arm(ms);
    const { slot } = this.opts.install;
    const said = `trial boot of slot ${slot}: ready within ${text} of boot start (${Math.round(left / 1000)} s from now), else the node reboots into slot ${otherSlot(slot)}`;
    log.info(`boot deadline: ${said}`);
    this.events.add("upgrade", `boot deadline: ${said}`, { deadlineMs: ms });
  }

  /** The boot is ready: the deadline goes, and the events say after how long. */
  ready(): void {
    if (!this.deadline?.disarm()) return;
    const said = `trial boot of slot ${this.opts.install!.slot} ready after ${Math.round(process.uptime())} s of init: deadline disarmed`;
    log.info(`boot deadline: ${said}`);
    this.events.add("upgrade", `boot deadline: ${said}`);
  }

  /** Stops the deadline without a word (the machine is stopping). */
  disarm(): void {
    this.deadline?.disarm();
  }
}
