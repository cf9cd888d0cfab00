/**
 * init's logger. On a node (PID 1, metal) every line goes to the console and to /dev/kmsg with a
 * `[bunker]` prefix, so it survives in the kernel ring buffer and reaches a serial console; in
 * container mode it goes to stderr only. Logging must never throw: a full or missing kmsg is
 * ignored.
 */
import { openSync, readFileSync, writeFileSync, writeSync } from "node:fs";

type Level = "info" | "warn" | "error";
const KMSG_LEVEL: Record<Level, number> = { info: 6, warn: 4, error: 3 };

let kmsgFd: number | undefined;
let consoleFd: number | undefined;
let toKernel = false;

/**
 * Sends later lines to /dev/kmsg and /dev/console as well (PID 1 on a node).
 *
 * The kernel echoes kmsg records below the console log level onto the console, so with the
 * default level (7) every info line would appear twice, and the echo is rate-limited (lines go
 * missing). init writes the console itself and lowers the console level to 4, as `quiet` does:
 * the console then shows init's lines once, plus the kernel's errors; the kernel ring buffer
 * (`bunkerctl dmesg`) keeps everything. `loglevel=N` or `debug` on the command line keep the
 * operator's choice.
 */
export function logToKernel(): void {
  toKernel = true;
  try {
    const cmdline = readFileSync("/proc/cmdline", "utf8").split(/\s+/);
    if (!cmdline.some((w) => w.startsWith("loglevel=") || w === "debug")) {
      const printk = readFileSync("/proc/sys/kernel/printk", "utf8").trim().split(/\s+/);
      writeFileSync("/proc/sys/kernel/printk", ["4", ...printk.slice(1)].join(" "));
    }
  } catch {
    // No /proc or no permission: duplicate lines are a nuisance, not a reason to stop.
  }
  try { kmsgFd = openSync("/dev/kmsg", "w"); } catch { kmsgFd = undefined; }
  try { consoleFd = openSync("/dev/console", "w"); } catch { consoleFd = undefined; }
}

function write(level: Level, msg: string): void {
  const line = `[bunker] ${msg}`;
  try {
    if (toKernel) {
      // kmsg takes one record per write; long records are truncated by the kernel, not split.
      if (kmsgFd !== undefined) for (const l of line.split("\n")) writeSync(kmsgFd, `<${KMSG_LEVEL[level]}>${l}\n`);
      if (consoleFd !== undefined) writeSync(consoleFd, line + "\n");
      else process.stderr.write(line + "\n");
    } else {
      process.stderr.write(`${new Date().toISOString()} ${line}\n`);
    }
  } catch {
    // Nowhere left to report a logging failure.
  }
}

export const log = {
  info: (msg: string) => write("info", msg),
  warn: (msg: string) => write("warn", msg),
  error: (msg: string) => write("error", msg),
};

export function errText(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}
