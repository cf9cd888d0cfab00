/**
 * The controller runtime. A controller declares the kinds it reads (inputs) and the types it
 * writes (outputs); its reconcile function runs once at start and again whenever any input
 * changes (changes that arrive while it runs are coalesced into one more run). A reconcile that
 * throws is retried after a backoff that doubles up to a cap; a success resets it. Outputs are
 * written with the controller's name as owner, and writing any other type is refused.
 */
import type { Kind, Ref, Resource } from "./resource.ts";
import type { Store, UpdateOptions } from "./store.ts";
import { doublingDelay } from "../time/backoff.ts";
import { systemClock, type Cancel, type Clock } from "../time/clock.ts";

export interface Controller {
  name: string;
  inputs: Kind[];
  /** Types (in any namespace) this controller may write. */
  outputs: string[];
  reconcile(ctx: ControllerContext): Promise<void> | void;
}

/** What a reconcile sees: reads of anything, writes of its outputs only, owned by it. */
export class ControllerContext {
  constructor(
    readonly store: Store,
    readonly name: string,
    private readonly outputs: ReadonlySet<string>,
    readonly signal: AbortSignal,
  ) {}

  private allowed(ref: Ref | Kind): void {
    if (!this.outputs.has(ref.type)) {
      throw new Error(`controller ${this.name}: ${ref.type} is not one of its outputs (${[...this.outputs].join(", ")})`);
    }
  }

  get<Spec>(ref: Ref): Resource<Spec> | undefined { return this.store.get<Spec>(ref); }
  list<Spec>(kind: Kind): Resource<Spec>[] { return this.store.list<Spec>(kind); }

  modify<Spec>(ref: Ref, fn: (cur: Spec | undefined) => Spec, opts: Omit<UpdateOptions, "owner"> = {}): Resource<Spec> {
    this.allowed(ref);
    return this.store.modify(ref, fn, { ...opts, owner: this.name });
  }

  destroy(ref: Ref): void {
    this.allowed(ref);
    if (this.store.get(ref)) this.store.destroy(ref, { owner: this.name });
  }

  /** Destroys this controller's outputs of a kind whose ids are not in `keep`. */
  cleanup(kind: Kind, keep: Iterable<string>): void {
    this.allowed(kind);
    const k = new Set(keep);
    for (const r of this.store.list(kind)) {
      if (r.metadata.owner === this.name && !k.has(r.metadata.id)) this.store.destroy({ ...kind, id: r.metadata.id }, { owner: this.name });
    }
  }
}

export interface ControllerStatus {
  name: string;
  runs: number;
  failures: number;
  /** Failures since the last success; drives the backoff. */
  consecutiveFailures: number;
  lastError?: string;
}

export interface RuntimeOptions {
  /** The first retry delay after a failure (ms); doubles per consecutive failure. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Told about every failed reconcile (the runtime itself never logs). */
  onError?: (controller: string, err: unknown, retryInMs: number) => void;
  /** What the backoff waits by (tests pass a ManualClock). */
  clock?: Clock;
}

interface Running {
  c: Controller;
  status: ControllerStatus;
  dirty: boolean;
  running: boolean;
  timer?: Cancel;
  unwatch: (() => void)[];
  ctx: ControllerContext;
}

export class ControllerRuntime {
  private readonly controllers = new Map<string, Running>();
  private readonly abort = new AbortController();
  private readonly base: number;
  private readonly max: number;
  private readonly clock: Clock;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly store: Store, private readonly opts: RuntimeOptions = {}) {
    this.base = opts.backoffBaseMs ?? 100;
    this.max = opts.backoffMaxMs ?? 30_000;
    this.clock = opts.clock ?? systemClock;
  }

  /** Adds a controller and starts it at once. */
  register(c: Controller): void {
    if (this.controllers.has(c.name)) throw new Error(`controller ${c.name}: registered twice`);
    for (const [name, other] of this.controllers) {
      const shared = c.outputs.filter((t) => other.c.outputs.includes(t));
      if (shared.length) throw new Error(`controller ${c.name}: output ${shared.join(", ")} already written by ${name}`);
    }
    const r: Running = {
      c, dirty: true, running: false, unwatch: [],
      status: { name: c.name, runs: 0, failures: 0, consecutiveFailures: 0 },
      ctx: new ControllerContext(this.store, c.name, new Set(c.outputs), this.abort.signal),
    };
    this.controllers.set(c.name, r);
    for (const input of c.inputs) {
      // tailOnly: the first run reads the current state itself.
      r.unwatch.push(this.store.watch(input, () => this.kick(r), { tailOnly: true }));
    }
    this.kick(r);
  }

  status(): ControllerStatus[] {
    return [...this.controllers.values()].map((r) => ({ ...r.status }));
  }

  /** Resolves when no controller is running or due to run (failed ones waiting out a backoff count as idle). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stop(): void {
    this.abort.abort();
    for (const r of this.controllers.values()) {
      for (const u of r.unwatch) u();
      r.timer?.();
    }
    this.controllers.clear();
    this.checkIdle();
  }

  private isIdle(): boolean {
    for (const r of this.controllers.values()) {
      if (r.running || (r.dirty && !r.timer)) return false;
    }
    return true;
  }

  private checkIdle(): void {
    if (!this.isIdle()) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }

  private kick(r: Running): void {
    r.dirty = true;
    if (r.running || r.timer || this.abort.signal.aborted) return;
    queueMicrotask(() => void this.run(r));
  }

  private async run(r: Running): Promise<void> {
    if (r.running || !r.dirty || this.abort.signal.aborted) return;
    r.running = true;
    r.dirty = false;
    r.status.runs++;
    let delay = 0;
    try {
      await r.c.reconcile(r.ctx);
      r.status.consecutiveFailures = 0;
    } catch (err) {
      r.status.failures++;
      r.status.consecutiveFailures++;
      r.status.lastError = err instanceof Error ? err.message : String(err);
      delay = doublingDelay(r.status.consecutiveFailures, this.base, this.max);
      r.dirty = true; // a failed run must run again even if no input changes
      try { this.opts.onError?.(r.c.name, err, delay); } catch { /* a broken reporter must not stop the runtime */ }
    } finally {
      r.running = false;
    }
    if (this.abort.signal.aborted) return this.checkIdle();
    if (delay > 0) {
      r.timer = this.clock.setTimeout(() => { r.timer = undefined; void this.run(r); }, delay);
    } else if (r.dirty) {
      queueMicrotask(() => void this.run(r));
    }
    this.checkIdle();
  }
}
