/**
 * Passes connection-level failures to onError at a bounded rate: the first of a kind (`where`)
 * at once, later ones within the interval counted and told as one summary when it ends.
 */
export class ErrorReporter {
  private readonly pending = new Map<string, { count: number; last: Error; timer: ReturnType<typeof setTimeout> }>();

  constructor(private readonly intervalMs: number, private readonly onError?: (err: Error, where: string) => void) {}

  report(err: Error, where: string): void {
    if (!this.onError) return;
    const p = this.pending.get(where);
    if (p) {
      p.count++;
      p.last = err;
      return;
    }
    this.onError(err, where);
    const entry = { count: 0, last: err, timer: setTimeout(() => this.flush(where), this.intervalMs) };
    entry.timer.unref?.();
    this.pending.set(where, entry);
  }

  private flush(where: string): void {
    const p = this.pending.get(where);
    if (!p) return;
    if (p.count === 0) {
      this.pending.delete(where);
      return;
    }
    this.onError!(new Error(`${p.count} more in the last ${Math.round(this.intervalMs / 1000)} s (last: ${p.last.message})`), where);
    // Still failing: the next summary comes after another interval (one line per interval).
    p.count = 0;
    p.timer = setTimeout(() => this.flush(where), this.intervalMs);
    p.timer.unref?.();
  }

  /** Tells what is still counted, and stops the timers (the server closes). */
  flushAll(): void {
    for (const where of [...this.pending.keys()]) {
      const p = this.pending.get(where)!;
      clearTimeout(p.timer);
      if (p.count > 0) this.onError!(new Error(`${p.count} more (last: ${p.last.message})`), where);
      this.pending.delete(where);
    }
  }
}
