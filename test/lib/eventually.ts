/** The bounded wait of the tests: poll a condition instead of sleeping for a guessed time. */

/**
 * Waits until check() is true, polling every `everyMs` (20 ms) for up to ms; returns its last value.
 * The check may be async (an RPC, a file read); one that throws counts as false until the last try,
 * whose error is thrown so a failing wait says why. A check that costs a process gets a longer pause.
 */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 5000, everyMs = 20): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    const last = Date.now() >= end;
    try {
      if (await check()) return true;
    } catch (e) {
      if (last) throw e;
    }
    if (last) return false;
    await Bun.sleep(everyMs);
  }
}

/**
 * Waits until fn() returns a value (not undefined) and returns it, polling with a growing pause
 * (0.5 s, 1 s, ... up to 3 s: each try may be a process or an RPC) for up to timeoutMs; throws
 * naming `what` and fn's last error otherwise.
 */
export async function waitFor<T>(fn: () => Promise<T | undefined>, o: { timeoutMs: number; what: string }): Promise<T> {
  const end = Date.now() + o.timeoutMs;
  let last = "";
  for (let i = 0; ; i++) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) { last = err instanceof Error ? err.message : String(err); }
    if (Date.now() > end) throw new Error(`${o.what}: not within ${o.timeoutMs / 1000} s${last ? ` (last: ${last})` : ""}`);
    await Bun.sleep(Math.min(500 * (i + 1), 3000));
  }
}

/**
 * One turn of the event loop: every promise callback already queued has run when it resolves. A
 * test that shows something does NOT happen in answer to an event (a store update, a clock moved)
 * waits this long instead of a guessed time, when that answer would come without I/O.
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
