/**
 * The sequencer: named sequences made of phases that run in order, each phase's tasks running
 * concurrently. One sequence runs at a time. A request while another runs either preempts it
 * (when the running one lists the new one in its takeover set: a reboot may cut a boot short) or
 * is refused with "busy: <sequence> in progress". A preempted sequence sees its AbortSignal fire,
 * and the next one starts once it has wound down. Every phase and task is an event and a line in
 * the sequence's status resource.
 */
import { BunkerError } from "../../core/errors.ts";
import type { Store } from "../../core/resources/index.ts";
import { SEQUENCES, type SequenceSpec } from "./resources.ts";

export type SequenceName = "boot" | "shutdown" | "reboot" | "reset" | "upgrade" | "rollback" | "apply-config" | "install";

export interface TaskContext {
  signal: AbortSignal;
  /** The arguments the sequence was requested with. */
  args: Record<string, unknown>;
}

export interface Task {
  name: string;
  run(ctx: TaskContext): Promise<void> | void;
}

export interface Phase {
  name: string;
  tasks: Task[];
}

export interface SequenceDef {
  name: SequenceName;
  /** The sequences that may preempt this one while it runs. */
  preemptedBy: SequenceName[];
  phases(args: Record<string, unknown>): Phase[];
}

/** Another sequence runs: UNAVAILABLE, the caller may try again once it ends. */
export class BusyError extends BunkerError {
  constructor(readonly running: string, readonly requested: string) {
    super("unavailable", `busy: ${running} in progress`, { reason: "busy" });
    this.name = "BusyError";
  }
}

export class PreemptedError extends Error {
  constructor(readonly by: string) {
    super(`preempted by ${by}`);
    this.name = "PreemptedError";
  }
}

interface Current {
  name: SequenceName;
  abort: AbortController;
  done: Promise<void>;
}

export interface SequencerOptions {
  store: Store;
  /** Told about every sequence, phase and task start and end. */
  onEvent?: (message: string, data: Record<string, unknown>) => void;
  /** How long a preempting sequence waits for the preempted one to wind down (default 30 s). */
  preemptWaitMs?: number;
}

export class Sequencer {
  private readonly defs = new Map<SequenceName, SequenceDef>();
  private current: Current | undefined;
  private sealedBy: SequenceName | undefined;

  constructor(private readonly opts: SequencerOptions) {}

  define(def: SequenceDef): void {
    this.defs.set(def.name, def);
  }

  /** Refuses every later request as busy with `by` (the machine is powering off or rebooting). */
  seal(by: SequenceName): void {
    this.sealedBy = by;
  }

  running(): SequenceName | undefined {
    return this.current?.name;
  }

  /**
   * Starts a sequence and returns its completion. Throws BusyError at once (synchronously) when
   * another sequence runs that this one may not preempt, so a caller can answer "accepted" or
   * "busy" before the sequence ends.
   */
  start(name: SequenceName, args: Record<string, unknown> = {}): { done: Promise<void> } {
    const def = this.defs.get(name);
    if (!def) throw new Error(`sequence ${name}: not defined`);
    if (this.sealedBy) throw new BusyError(this.sealedBy, name);
    const prev = this.current;
    if (prev) {
      const prevDef = this.defs.get(prev.name)!;
      if (!prevDef.preemptedBy.includes(name)) throw new BusyError(prev.name, name);
      prev.abort.abort(new PreemptedError(name));
    }
    const abort = new AbortController();
    // Claim the lock now, so a third request is judged against this one, not the preempted one.
    const done = (async () => {
      if (prev) {
        // A task that ignores its signal must not block a reboot forever: wait a bounded time.
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([prev.done.catch(() => {}), new Promise((r) => { timer = setTimeout(r, this.opts.preemptWaitMs ?? 30_000); })]);
        clearTimeout(timer);
      }
      await this.execute(def, args, abort.signal);
    })();
    const cur: Current = { name, abort, done };
    this.current = cur;
    const release = () => { if (this.current === cur) this.current = undefined; };
    done.then(release, release);
    return { done };
  }

  /** Runs a sequence to its end; rejects with BusyError, the first task error, or PreemptedError. */
  run(name: SequenceName, args: Record<string, unknown> = {}): Promise<void> {
    try {
      return this.start(name, args).done;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private async execute(def: SequenceDef, args: Record<string, unknown>, signal: AbortSignal): Promise<void> {
    const phases = def.phases(args);
    const status: SequenceSpec = {
      state: "running", phase: "", started: new Date().toISOString(),
      phases: phases.map((p) => ({ name: p.name, state: "pending", tasks: p.tasks.map((t) => ({ name: t.name, state: "pending" })) })),
    };
    const ref = { ...SEQUENCES, id: def.name };
    const write = () => this.opts.store.modify<SequenceSpec>(ref, () => status, { owner: "sequencer" });
    const emit = (message: string, data: Record<string, unknown>) => { try { this.opts.onEvent?.(message, { sequence: def.name, ...data }); } catch { /* observers never break a sequence */ } };
    write();
    emit(`sequence ${def.name} started`, {});
    try {
      for (const [pi, phase] of phases.entries()) {
        if (signal.aborted) throw signal.reason;
        const ps = status.phases[pi]!;
        status.phase = phase.name;
        ps.state = "running";
        write();
        emit(`phase ${def.name}/${phase.name} started`, { phase: phase.name });
        const results = await Promise.allSettled(phase.tasks.map(async (task, ti) => {
          const ts = ps.tasks[ti]!;
          ts.state = "running";
          write();
          emit(`task ${def.name}/${phase.name}/${task.name} started`, { phase: phase.name, task: task.name });
          try {
            await task.run({ signal, args });
            ts.state = "done";
            emit(`task ${def.name}/${phase.name}/${task.name} done`, { phase: phase.name, task: task.name });
          } catch (err) {
            ts.state = "failed";
            ts.error = err instanceof Error ? err.message : String(err);
            emit(`task ${def.name}/${phase.name}/${task.name} failed: ${ts.error}`, { phase: phase.name, task: task.name, error: ts.error });
            throw err;
          } finally {
            write();
          }
        }));
        const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
        ps.state = failed ? "failed" : "done";
        write();
        emit(`phase ${def.name}/${phase.name} ${ps.state}`, { phase: phase.name });
        if (failed) throw failed.reason;
      }
      status.state = "done";
      emit(`sequence ${def.name} done`, {});
    } catch (err) {
      const preempted = signal.aborted;
      status.state = preempted ? "aborted" : "failed";
      status.error = preempted && signal.reason instanceof Error ? signal.reason.message : err instanceof Error ? err.message : String(err);
      emit(`sequence ${def.name} ${status.state}: ${status.error}`, { error: status.error });
      throw preempted ? signal.reason : err;
    } finally {
      status.finished = new Date().toISOString();
      write();
    }
  }
}
