/**
 * The kernel log from /dev/kmsg: one record per read(2), "PRI,SEQ,USEC,FLAGS;MESSAGE". Reading
 * needs CAP_SYSLOG while kernel.dmesg_restrict=1 (init has it).
 */
import { closeSync, constants, openSync, readSync } from "node:fs";
import { sleep, systemClock } from "../time/clock.ts";

export interface KernelRecord { seq: number; facility: number; priority: number; monotonicUs: number; message: string }

export function parseKmsgRecord(text: string): KernelRecord | undefined {
  const semi = text.indexOf(";");
  if (semi < 0) return undefined;
  const [pri, seq, usec] = text.slice(0, semi).split(",");
  if (pri === undefined || seq === undefined || usec === undefined) return undefined;
  const p = Number(pri);
  // Continuation lines (" KEY=value") follow the message; they are metadata, not text.
  const message = text.slice(semi + 1).split("\n")[0]!.replace(/\\x([0-9a-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  return { seq: Number(seq), facility: p >> 3, priority: p & 7, monotonicUs: Number(usec), message };
}

export interface KmsgOptions {
  follow?: boolean;
  /** Only the last N records of what the kernel keeps (0: all). */
  tail?: number;
  signal?: AbortSignal;
  /** How often to look for new records while following (default 250 ms). */
  pollMs?: number;
  path?: string;
}

export async function* readKmsg(o: KmsgOptions = {}): AsyncGenerator<KernelRecord> {
  const fd = openSync(o.path ?? "/dev/kmsg", constants.O_RDONLY | constants.O_NONBLOCK);
  const buf = Buffer.alloc(8192);
  try {
    const backlog: KernelRecord[] = [];
    let caughtUp = false;
    while (!o.signal?.aborted) {
      let n = 0;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "EPIPE") continue; // records were overwritten while we read: go on from the oldest kept
        if (code !== "EAGAIN") throw new Error(`reading ${o.path ?? "/dev/kmsg"}: ${(err as Error).message}`);
        if (!caughtUp) {
          caughtUp = true;
          yield* o.tail ? backlog.slice(-o.tail) : backlog;
          backlog.length = 0;
        }
        if (!o.follow) return;
        await sleep(systemClock, o.pollMs ?? 250, o.signal);
        continue;
      }
      const rec = parseKmsgRecord(buf.subarray(0, n).toString("utf8"));
      if (!rec) continue;
      if (caughtUp) yield rec;
      else backlog.push(rec);
    }
  } finally {
    closeSync(fd);
  }
}
