/**
 * The service supervisor. Each service runs one loop: wait for its dependencies and conditions,
 * pre-start, spawn, watch health, and on exit restart per its policy with exponential backoff and
 * jitter (capped at 30 s, reset by a long enough run), so a crash loop costs a bounded rate of
 * restarts. Stop is SIGTERM to the service's process group, a grace period, then SIGKILL; stopAll
 * stops dependents before what they depend on. Every state change is kept in the service's last
 * 64 events and published as a Service resource. A failing service never throws into init: every
 * failure becomes a state.
 */
import { BunkerError } from "../../core/errors.ts";
import { existsSync, writeFileSync } from "node:fs";
import type { Store } from "../../core/resources/index.ts";
import { libc } from "../../core/sys/libc.ts";
import { doublingDelay } from "../../core/time/backoff.ts";
import { systemClock, type Cancel, type Clock } from "../../core/time/clock.ts";
import { sleep } from "./conditions.ts";
import { exitOutput } from "./exitoutput.ts";
import { RingBuffer } from "./ringbuffer.ts";
import { SERVICES } from "./resources.ts";
import { serviceCgroup, spawnService, type ServiceProcess } from "./spawnservice.ts";
import {
  MAX_EVENTS, MAX_RESTART_DELAY_MS,
  type ServiceEvent, type ServiceSpec, type ServiceState, type ServiceStatus,
} from "./service.ts";

const SIGTERM = 15;
const SIGKILL = 9;

export interface SupervisorOptions {
  store: Store;
  /** A cgroup v2 directory under which each service gets its own; none in container mode. */
  cgroupRoot?: string;
  /**
   * Told about every service event (init logs them and keeps the event history); an exit with an
   * error comes with the last lines the service wrote in that run (see exitOutput).
   */
  onEvent?: (id: string, ev: ServiceEvent, output?: string[]) => void;
  /** Bytes of stdout+stderr kept per service (default 1 MiB). */
  logCapacity?: number;
  /** Told about every chunk a service writes, as it goes into its ring (log shipping); must not block. */
  onOutput?: (id: string, chunk: Uint8Array, stream: "stdout" | "stderr", time: number) => void;
  /** The environment a service gets when its runner names none. */
  defaultEnv?: Record<string, string>;
  /**
   * What every wait is timed by (restart backoff, health checks, stop grace, how long a run lasted)
   * and what event times read; tests move a ManualClock. Default: the system clock.
   */
  clock?: Clock;
}


class Instance {
  state: ServiceState = "Waiting";
  events: ServiceEvent[] = [];
  restarts = 0;
  healthy: boolean | undefined;
  proc: ServiceProcess | undefined;
  lastExit: ServiceStatus["lastExit"];
  abort = new AbortController();
  loop: Promise<void> | undefined;
  stopping = false;
  readonly logs: RingBuffer;
  constructor(readonly spec: ServiceSpec, capacity: number) {
    this.logs = new RingBuffer(capacity);
  }
}

/** An exit (or a failure to start) as the restart policy sees it. */
interface Outcome { ok: boolean; message: string; ranMs: number }

export class Supervisor {
  private readonly services = new Map<string, Instance>();
  private listeners = new Set<() => void>();
  private readonly clock: Clock;

  constructor(private readonly opts: SupervisorOptions) {
    this.clock = opts.clock ?? systemClock;
  }

  /** Declares a service; it starts with start(). */
  add(spec: ServiceSpec): void {
    if (!/^[a-z0-9][a-z0-9._-]*$/.test(spec.id)) throw new Error(`service "${spec.id}": id must be lower-case letters, digits, ".", "_" or "-"`);
    if (this.services.has(spec.id)) throw new Error(`service ${spec.id}: declared twice`);
    if (!spec.runner.argv.length) throw new Error(`service ${spec.id}: runner.argv is empty`);
    const inst = new Instance(spec, this.opts.logCapacity ?? 1 << 20);
    this.services.set(spec.id, inst);
    this.publish(inst);
  }

  ids(): string[] { return [...this.services.keys()]; }

  /** What a service declared. */
  spec(id: string): ServiceSpec { return this.get(id).spec; }

  /** Throws naming an unknown dependency or a dependency cycle. */
  validate(): void {
    for (const s of this.services.values()) {
      for (const d of s.spec.dependsOn ?? []) {
        if (!this.services.has(d)) throw new Error(`service ${s.spec.id}: depends on unknown service ${d}`);
      }
    }
    const seen = new Set<string>();
    const visit = (id: string, path: string[]) => {
      if (path.includes(id)) throw new Error(`service dependency cycle: ${[...path, id].join(" -> ")}`);
      if (seen.has(id)) return;
      for (const d of this.services.get(id)!.spec.dependsOn ?? []) visit(d, [...path, id]);
      seen.add(id);
    };
    for (const id of this.services.keys()) visit(id, []);
  }

  /** Starts one service, or every declared one that is not running yet. */
  start(id?: string): void {
    if (id === undefined) {
      this.validate();
      for (const s of this.services.values()) this.startOne(s);
      return;
    }
    this.startOne(this.get(id));
  }

  /** Whether a service of this id is declared. */
  has(id: string): boolean {
    return this.services.has(id);
  }

  private get(id: string): Instance {
    const s = this.services.get(id);
    if (!s) throw new BunkerError("not_found", `service ${id}: not found`);
    return s;
  }

  private startOne(s: Instance): void {
    if (s.loop) return;
    s.stopping = false;
    s.abort = new AbortController();
    s.loop = this.run(s).finally(() => { s.loop = undefined; this.notify(); });
  }

  status(id: string): ServiceStatus {
    const s = this.get(id);
    return {
      state: s.state, running: (s.proc !== undefined && s.state === "Running") || s.state === "Stopping",
      healthy: s.healthy, pid: s.proc?.pid, restarts: s.restarts, lastExit: s.lastExit,
      dependsOn: s.spec.dependsOn ?? [], description: s.spec.description ?? "", events: [...s.events],
    };
  }

  logs(id: string): RingBuffer { return this.get(id).logs; }

  /** True when dependants may start: running (and healthy if checked), skipped, or finished cleanly once. */
  isUp(id: string): boolean {
    const s = this.services.get(id);
    if (!s) return false;
    if (s.state === "Skipped") return true;
    if (s.state === "Running") return s.spec.health === undefined || s.healthy === true;
    return s.state === "Finished" && (s.spec.restart?.policy ?? "always") === "never" && s.lastExit?.code === 0;
  }

  /** Resolves when `pred` holds, re-checked at every state change. */
  waitFor(pred: () => boolean, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const check = () => {
        if (!pred()) return;
        this.listeners.delete(check);
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => { this.listeners.delete(check); reject(signal!.reason); };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.listeners.add(check);
      check();
    });
  }

  private notify(): void {
    for (const f of [...this.listeners]) f();
  }

  private event(s: Instance, state: ServiceState, message: string, output?: string[], health?: ServiceEvent["health"]): void {
    s.state = state;
    const ev: ServiceEvent = { time: new Date(this.clock.now()).toISOString(), state, message, ...(health ? { health } : {}) };
    s.events.push(ev);
    if (s.events.length > MAX_EVENTS) s.events.splice(0, s.events.length - MAX_EVENTS);
    try { this.opts.onEvent?.(s.spec.id, ev, output); } catch { /* a broken observer must not break the service */ }
    this.publish(s);
    this.notify();
  }

  private publish(s: Instance): void {
    this.opts.store.modify<ServiceStatus>({ ...SERVICES, id: s.spec.id }, () => this.status(s.spec.id), { owner: "supervisor" });
  }

  private async run(s: Instance): Promise<void> {
    const signal = s.abort.signal;
    try {
      const skip = s.spec.skip?.();
      if (skip) return this.event(s, "Skipped", skip);
      await this.waitReady(s, signal);
      let quickExits = 0;
      for (;;) {
        const out = await this.runOnce(s, signal);
        if (s.stopping || signal.aborted) return;
        const policy = s.spec.restart?.policy ?? "always";
        if (policy === "never" || (policy === "on-failure" && out.ok)) return;
        const resetAfter = s.spec.restart?.resetAfterMs ?? 30_000;
        quickExits = out.ranMs >= resetAfter ? 1 : quickExits + 1;
        const delay = restartDelay(quickExits, s.spec.restart?.baseDelayMs ?? 500, s.spec.restart?.maxDelayMs ?? MAX_RESTART_DELAY_MS);
        s.restarts++;
        this.event(s, s.state, `restarting in ${delay} ms (restart ${s.restarts}, policy ${policy})`);
        await sleep(delay, signal, this.clock);
      }
    } catch (err) {
      if (signal.aborted) return;
      // Only an internal error gets here; the service is left Failed rather than init harmed.
      this.event(s, "Failed", `supervisor error: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private async waitReady(s: Instance, signal: AbortSignal): Promise<void> {
    const deps = s.spec.dependsOn ?? [];
    const conds = s.spec.conditions ?? [];
    const unmet = new Set<string>([...deps.map((d) => `service ${d}`), ...conds.map((c) => c.describe)]);
    if (unmet.size === 0) return;
    const say = () => this.event(s, "Waiting", `waiting for ${[...unmet].join(", ")}`);
    say();
    await Promise.all([
      ...deps.map((d) => this.waitFor(() => this.isUp(d), signal).then(() => { unmet.delete(`service ${d}`); if (unmet.size) say(); })),
      ...conds.map((c) => c.wait(signal).then(() => { unmet.delete(c.describe); if (unmet.size) say(); })),
    ]);
  }

  private async runOnce(s: Instance, signal: AbortSignal): Promise<Outcome> {
    const started = this.clock.now();
    try {
      if (s.spec.preStart) {
        this.event(s, "Preparing", "running pre-start");
        await s.spec.preStart(signal);
      } else {
        this.event(s, "Preparing", "starting");
      }
      if (signal.aborted) return { ok: true, message: "stopped", ranMs: 0 };
      // Where this run's output starts: an exit with an error reports the lines written since.
      const logFrom = s.logs.end;
      const proc = spawnService(s.spec, { cgroup: this.cgroupDir(s), defaultEnv: this.opts.defaultEnv });
      s.proc = proc;
      s.healthy = s.spec.health ? false : undefined;
      this.event(s, "Running", `process ${proc.pid} started`);
      const healthStop = new AbortController();
      if (s.spec.health) void this.healthLoop(s, healthStop.signal);
      const pumps = Promise.all([this.pump(s, proc.stdout, "stdout"), this.pump(s, proc.stderr, "stderr")]);
      await proc.exited;
      healthStop.abort();
      await pumps;
      s.proc = undefined;
      const code = proc.exitCode;
      const sig = proc.signalCode === null ? null : String(proc.signalCode);
      const ok = code === 0;
      // A clean exit or one we asked for (stop) needs no explanation; an error keeps its last words.
      const output = ok || s.stopping ? undefined : exitOutput(s.logs, logFrom);
      s.lastExit = { code, signal: sig, time: new Date(this.clock.now()).toISOString(), ...(output ? { output } : {}) };
      const message = sig ? `killed by ${sig}` : `exited with code ${code}`;
      if (s.stopping) return { ok, message, ranMs: this.clock.now() - started };
      this.event(s, ok ? "Finished" : "Failed", message, output);
      return { ok, message, ranMs: this.clock.now() - started };
    } catch (err) {
      s.proc = undefined;
      if (signal.aborted) return { ok: true, message: "stopped", ranMs: 0 };
      const message = `failed to start: ${err instanceof Error ? err.message : String(err)}`;
      this.event(s, "Failed", message);
      return { ok: false, message, ranMs: this.clock.now() - started };
    }
  }

  private cgroupDir(s: Instance): string | undefined {
    return serviceCgroup(s.spec, this.opts.cgroupRoot);
  }

  private async pump(s: Instance, stream: ReadableStream<Uint8Array>, name: "stdout" | "stderr"): Promise<void> {
    try {
      for await (const chunk of stream) {
        const time = this.clock.now();
        s.logs.write(chunk, name, time);
        this.opts.onOutput?.(s.spec.id, chunk, name, time);
      }
    } catch {
      // A broken pipe ends the capture, not the service.
    }
  }

  private async healthLoop(s: Instance, signal: AbortSignal): Promise<void> {
    const h = s.spec.health!;
    try {
      await sleep(h.initialDelayMs ?? 1000, signal, this.clock);
      let first = true;
      while (!signal.aborted) {
        const timeout = h.timeoutMs ?? 500;
        const ac = new AbortController();
        const cancel = this.clock.setTimeout(() => ac.abort(new Error(`timed out after ${timeout} ms`)), timeout);
        let ok = true;
        let why = "";
        try {
          await Promise.race([h.check(ac.signal), new Promise((_, rej) => ac.signal.addEventListener("abort", () => rej(ac.signal.reason)))]);
        } catch (err) {
          ok = false;
          why = err instanceof Error ? err.message : String(err);
        } finally {
          cancel();
        }
        if (signal.aborted) return;
        // The first result is always reported; later ones only when they change.
        if (first || ok !== s.healthy) {
          first = false;
          s.healthy = ok;
          this.event(s, s.state, ok ? "health check passed" : `health check failed: ${why}`, undefined, ok ? "passed" : "failed");
        }
        await sleep(h.intervalMs ?? 5000, signal, this.clock);
      }
    } catch {
      // Aborted: the process exited or is being stopped.
    }
  }

  /** Stops one service: SIGTERM to its process group, then SIGKILL after its grace period. */
  async stop(id: string): Promise<void> {
    const s = this.get(id);
    if (!s.loop && !s.proc) return;
    s.stopping = true;
    s.abort.abort(new Error("stopped"));
    const proc = s.proc;
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      const grace = s.spec.stopGraceMs ?? 10_000;
      this.event(s, "Stopping", `sending SIGTERM, SIGKILL in ${grace} ms`);
      this.signalGroup(proc.pid, SIGTERM);
      let cancel: Cancel | undefined;
      const killed = await Promise.race([
        proc.exited.then(() => false),
        new Promise<boolean>((resolve) => { cancel = this.clock.setTimeout(() => resolve(true), grace); }),
      ]);
      cancel?.();
      if (killed) {
        this.event(s, "Stopping", `grace period of ${grace} ms elapsed, sending SIGKILL`);
        this.signalGroup(proc.pid, SIGKILL);
        await proc.exited;
      }
    }
    // Processes that left the group but not the cgroup go too.
    const cg = this.cgroupDir(s);
    if (cg && existsSync(`${cg}/cgroup.kill`)) { try { writeFileSync(`${cg}/cgroup.kill`, "1"); } catch { /* already empty */ } }
    await s.loop;
    if (s.state !== "Skipped") this.event(s, "Finished", "stopped");
  }

  private signalGroup(pid: number, sig: number): void {
    // The service leads its own session and group (detached), so -pid reaches its children too.
    if (libc().kill(-pid, sig) !== 0) libc().kill(pid, sig);
  }

  /** Sends a signal to a running service's main process (e.g. SIGHUP: reload); false when not running. */
  signal(id: string, sig: number): boolean {
    const proc = this.get(id).proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return false;
    return libc().kill(proc.pid, sig) === 0;
  }

  async restart(id: string): Promise<void> {
    await this.stop(id);
    this.start(id);
  }

  /** Stops every service, each only after every service that depends on it has stopped. */
  async stopAll(): Promise<void> {
    const done = new Map<string, Promise<void>>();
    const dependents = (id: string) => [...this.services.values()].filter((s) => (s.spec.dependsOn ?? []).includes(id)).map((s) => s.spec.id);
    const stopAfterDependents = (id: string, path: string[]): Promise<void> => {
      let p = done.get(id);
      if (p) return p;
      if (path.includes(id)) return Promise.resolve(); // a cycle: validate() refuses them; do not hang
      p = Promise.all(dependents(id).map((d) => stopAfterDependents(d, [...path, id]))).then(() => this.stop(id));
      done.set(id, p);
      return p;
    };
    await Promise.all([...this.services.keys()].map((id) => stopAfterDependents(id, [])));
  }
}

/** Exponential backoff with jitter: base * 2^(n-1), times a random 0.75..1.25, never above max. */
export function restartDelay(n: number, baseMs: number, maxMs: number): number {
  const cap = Math.min(maxMs, MAX_RESTART_DELAY_MS);
  const exp = doublingDelay(Math.max(1, n), baseMs, cap);
  return Math.round(Math.min(cap, exp * (0.75 + Math.random() * 0.5)));
}
