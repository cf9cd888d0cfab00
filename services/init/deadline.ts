/**
 * The boot deadline of a trial boot (the first boot of an upgraded slot): a child process
 * (`bunker partition trial-deadline`) that reboots the machine unless init kills it first, which
 * it does once the boot is ready. The reboot lands on the slot the node came from: GRUB spent the
 * one-shot trial before booting it. So a new system that hangs, not only one that panics, rolls
 * back by itself; the old system then reports the failed trial and retires the slot.
 */
import { readFileSync } from "node:fs";
import { selfCommand } from "../../core/sys/self.ts";
import { spawnTracked } from "./children.ts";

/** Never less than this from now, so a deadline met late still lets the console say why. */
const MIN_LEFT_MS = 1000;

/** Seconds since the kernel started (metal), or since this process did (container mode). */
export function bootElapsedMs(mode: "metal" | "container"): number {
  if (mode === "metal") {
    try { return Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]) * 1000; } catch { /* no /proc: count from init's start */ }
  }
  return process.uptime() * 1000;
}

export class TrialDeadline {
  private child: ReturnType<typeof spawnTracked> | undefined;
  private deadlineMs = 0;

  constructor(private readonly mode: "metal" | "container") {}

  /** The deadline in force (ms from boot start), 0 when none. */
  get ms(): number { return this.child ? this.deadlineMs : 0; }

  /** Arms (or re-arms) the deadline at `deadlineMs` from boot start; returns the ms left. */
  arm(deadlineMs: number): number {
    this.disarm();
    const left = Math.max(MIN_LEFT_MS, deadlineMs - bootElapsedMs(this.mode));
    this.deadlineMs = deadlineMs;
    this.child = spawnTracked([...selfCommand(), "partition", "trial-deadline", "--seconds", String(left / 1000), "--watch", String(process.pid), "--then", this.mode === "metal" ? "reboot" : "kill"], {
      // Its last words go to init's console; nothing else of init's environment.
      stdin: "ignore", stdout: "inherit", stderr: "inherit", argv0: "bunker", env: { PATH: "/usr/bin:/bin" },
    });
    return left;
  }

  /** The boot is ready (or no longer a trial): the deadline child goes. */
  disarm(): boolean {
    const c = this.child;
    this.child = undefined;
    if (!c || c.exitCode !== null) return false;
    c.kill("SIGKILL");
    return true;
  }
}
