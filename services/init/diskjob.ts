/**
 * init's disk work (install, an upgrade's slot write, a reset's wipe) in a supervised child:
 * this binary as `bunker partition job`, given the job as JSON on stdin. mkfs, mtools and the
 * synchronous copies and fsyncs of the slot files then block that child, never PID 1, which goes
 * on reaping, answering the API and draining logs. Chosen over making every disk step async
 * because the steps are many (GPT, mkfs, mtools, GRUB, ext4 writes) and synchronous throughout
 * core/install and core/disklayout, which `bunker partition` runs on a console as it is; a
 * process boundary keeps PID 1 free of all of them at once, and of a tool that hangs.
 *
 * Its progress lines come back as they are written, and a child that has not ended after
 * `timeoutMs`, or whose sequence was aborted (a reboot preempting an install), is killed.
 */
import type { DiskJob, JobResult } from "../../core/install/job.ts";
import { selfCommand } from "../../core/sys/self.ts";
import { systemClock, type Clock } from "../../core/time/clock.ts";
import { spawnTracked } from "./children.ts";

/** Longer than mkfs of the largest EPHEMERAL and a slot's copy on a slow disk together. */
export const DISK_JOB_TIMEOUT_MS = 30 * 60_000;
/** What of the child's stderr an error keeps (its last words). */
const STDERR_KEEP = 4096;

export interface DiskJobOptions {
  progress: (line: string) => void;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** What the timeout runs on (tests move a ManualClock); default the system clock. */
  clock?: Clock;
  /** Called with the child's pid once it runs (tests watch it). */
  started?: (pid: number) => void;
}

/** The disk job failed in the child (its own message), or the child ended without saying why. */
export class DiskJobError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DiskJobError";
  }
}

/** Runs `job` in a child process and resolves with its result; rejects with its error. */
export async function runDiskJob(job: DiskJob, o: DiskJobOptions): Promise<JobResult> {
  o.signal?.throwIfAborted();
  const child = spawnTracked([...selfCommand(), "partition", "job"], {
    stdin: "pipe", stdout: "pipe", stderr: "pipe", argv0: "bunker",
    // A clean environment: nothing of init's (BUN_OPTIONS, BUN_BE_BUN) changes how the child runs.
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C" },
  });
  o.started?.(child.pid);
  child.stdin.write(JSON.stringify(job));
  void child.stdin.end();
  let killedFor: string | undefined;
  const kill = (why: string) => { if (killedFor === undefined) { killedFor = why; child.kill("SIGKILL"); } };
  const timeoutMs = o.timeoutMs ?? DISK_JOB_TIMEOUT_MS;
  const cancelTimeout = (o.clock ?? systemClock).setTimeout(() => kill(`it ran longer than ${timeoutMs} ms`), timeoutMs);
  const onAbort = () => kill("its sequence was stopped");
  o.signal?.addEventListener("abort", onAbort, { once: true });
  let result: JobResult | undefined;
  let error: string | undefined;
  const stderr = new Response(child.stderr).text().then((t) => t.slice(-STDERR_KEEP).trim(), () => "");
  try {
    let rest = "";
    const dec = new TextDecoder();
    const line = (l: string) => {
      if (!l.trim()) return;
      let m: { progress?: unknown; result?: JobResult; error?: unknown };
      try { m = JSON.parse(l); } catch { o.progress(l); return; }
      if (typeof m.progress === "string") o.progress(m.progress);
      else if (m.result !== undefined) result = m.result;
      else if (typeof m.error === "string") error = m.error;
    };
    for await (const chunk of child.stdout) {
      rest += dec.decode(chunk, { stream: true });
      let i: number;
      while ((i = rest.indexOf("\n")) >= 0) { line(rest.slice(0, i)); rest = rest.slice(i + 1); }
    }
    line(rest);
    const code = await child.exited;
    if (killedFor !== undefined) {
      if (o.signal?.aborted) throw o.signal.reason;
      throw new DiskJobError(`the ${job.kind} child (pid ${child.pid}) was killed: ${killedFor}`);
    }
    if (error !== undefined) throw new DiskJobError(error);
    if (code !== 0 || result === undefined) {
      const why = await stderr;
      throw new DiskJobError(`the ${job.kind} child (pid ${child.pid}) ended with exit ${child.signalCode ?? code} and no result${why ? `: ${why}` : ""}`);
    }
    return result;
  } finally {
    cancelTimeout();
    o.signal?.removeEventListener("abort", onAbort);
  }
}
