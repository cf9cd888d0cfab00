/**
 * Time as a parameter. Code that waits (retries, renewals, deadlines) takes a Clock instead of
 * calling Date.now and setTimeout itself, so its tests can move time by hand (ManualClock) and
 * check each wait exactly, without sleeping.
 */

/** Cancels a timer; calling it after the timer ran, or twice, does nothing. */
export type Cancel = () => void;

export interface Clock {
  /** Milliseconds since the epoch (Date.now for the system clock). */
  now(): number;
  /** Runs `fn` once, `ms` from now. */
  setTimeout(fn: () => void, ms: number): Cancel;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

/**
 * The system clock for background timers (a certificate's renewal): one still pending does not
 * keep the process alive.
 */
export const backgroundClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return () => clearTimeout(t);
  },
};

/** Resolves `ms` from now on `clock`, or at once when `signal` aborts. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => { cancel(); signal?.removeEventListener("abort", done); resolve(); };
    const cancel = clock.setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
}

/** A clock that moves only when told to (tests). */
export class ManualClock implements Clock {
  private t: number;
  private seq = 0;
  private timers: Timer[] = [];

  constructor(start = 0) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): Cancel {
    const timer: Timer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.push(timer);
    return () => { this.timers = this.timers.filter((x) => x !== timer); };
  }

  /** The waits of the timers not run yet, from now, soonest first. */
  pending(): number[] {
    return this.order().map((x) => x.at - this.t);
  }

  /**
   * Moves time forward by `ms`, running each timer that falls due on the way at its own time, in
   * order (a timer that one of them sets runs too if it is due by then).
   */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new Error(`ManualClock.advance(${ms}): time only moves forward`);
    const end = this.t + ms;
    for (;;) {
      const next = this.order()[0];
      if (!next || next.at > end) break;
      this.timers = this.timers.filter((x) => x !== next);
      this.t = next.at;
      next.fn();
    }
    this.t = end;
  }

  private order(): Timer[] {
    return [...this.timers].sort((a, b) => a.at - b.at || a.seq - b.seq);
  }
}
