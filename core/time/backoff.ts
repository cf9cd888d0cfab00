/**
 * Doubling backoff, the one rule every retry in Bunker waits by: after the n-th failure in a row,
 * wait base * 2^(n-1), never more than max.
 */

/** The wait after `failures` failures in a row (0 for none). */
export function doublingDelay(failures: number, baseMs: number, maxMs: number): number {
  if (failures <= 0) return 0;
  // The exponent is bounded so a long outage cannot reach Infinity (0 * Infinity is NaN).
  return Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 40));
}

/** The count behind doublingDelay, for loops that retry until they succeed. */
export class Backoff {
  private n = 0;

  constructor(private readonly baseMs: number, private readonly maxMs: number) {}

  /** Counts one more failure; the wait before the next try. */
  fail(): number {
    this.n++;
    return doublingDelay(this.n, this.baseMs, this.maxMs);
  }

  /** A success: the next failure waits the base again. */
  reset(): void {
    this.n = 0;
  }

  /** Failures since the last success. */
  get failures(): number {
    return this.n;
  }
}
