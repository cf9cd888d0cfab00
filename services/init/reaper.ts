/**
 * The orphan reaper. Bun collects the exit status of the children it spawned, but nothing
 * collects orphans re-parented to init (PID 1, or a child subreaper in container mode), so they
 * would stay zombies. On SIGCHLD (and on a slow timer, in case a signal was coalesced while a
 * Bun child was the first zombie in line) it peeks with waitid(P_ALL, WEXITED|WNOHANG|WNOWAIT):
 * a zombie that is not ours is reaped with waitpid; one of ours is left for Bun, and then the
 * rest are found through /proc instead, since the peek would keep returning the same one.
 */
import { readdirSync, readFileSync } from "node:fs";
import { ptr } from "bun:ffi";
import { libc } from "../../core/sys/libc.ts";

const P_ALL = 0;
const WNOHANG = 1;
const WEXITED = 4;
const WNOWAIT = 0x01000000;
/** siginfo_t is 128 bytes; si_pid is the int at offset 16 on Linux. */
const SI_PID_OFFSET = 16;

export class Reaper {
  private reaped = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly onSigchld = () => this.reap();
  private readonly si = new Int32Array(32);
  private readonly status = new Int32Array(1);

  constructor(private readonly isOurs: (pid: number) => boolean, private readonly onReap?: (pid: number) => void) {}

  get count(): number { return this.reaped; }

  start(sweepMs = 5000): void {
    process.on("SIGCHLD", this.onSigchld);
    this.timer = setInterval(() => this.reap(), sweepMs);
    this.timer.unref?.();
    this.reap();
  }

  stop(): void {
    process.off("SIGCHLD", this.onSigchld);
    if (this.timer) clearInterval(this.timer);
  }

  /** Reaps every zombie child that is not ours; returns how many. */
  reap(): number {
    let n = 0;
    try {
      for (let i = 0; i < 4096; i++) {
        this.si.fill(0);
        if (libc().waitid(P_ALL, 0, ptr(this.si), WEXITED | WNOHANG | WNOWAIT) !== 0) break; // ECHILD: no children at all
        const pid = this.si[SI_PID_OFFSET / 4]!;
        if (pid === 0) break; // children, but none exited
        if (this.isOurs(pid)) {
          n += this.sweepProc();
          break;
        }
        if (this.reapPid(pid)) n++;
        else break;
      }
    } catch {
      // The reaper must never take init down; the next SIGCHLD or sweep retries.
    }
    return n;
  }

  private reapPid(pid: number): boolean {
    const r = libc().waitpid(pid, ptr(this.status), WNOHANG);
    if (r !== pid) return false;
    this.reaped++;
    try { this.onReap?.(pid); } catch { /* observers never break the reaper */ }
    return true;
  }

  /** Zombie children found through /proc (state Z, parent us) that are not ours. */
  private sweepProc(): number {
    const me = process.pid;
    let n = 0;
    for (const name of readdirSync("/proc")) {
      const pid = Number(name);
      if (!Number.isInteger(pid) || pid <= 0 || this.isOurs(pid)) continue;
      let stat: string;
      try { stat = readFileSync(`/proc/${pid}/stat`, "latin1"); } catch { continue; }
      // The command name is in parentheses and may hold spaces: parse after the last ')'.
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (rest[0] === "Z" && Number(rest[1]) === me && this.reapPid(pid)) n++;
    }
    return n;
  }
}
