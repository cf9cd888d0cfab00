/** The bounded wait of the tests: poll a condition instead of sleeping for a guessed time. */

/**
 * Waits until check() is true, polling every 20 ms for up to ms; returns its last value. The check
 * may be async (an RPC, a file read); one that throws counts as false until the last try, whose
 * error is thrown so a failing wait says why.
 */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    const last = Date.now() >= end;
    try {
      if (await check()) return true;
    } catch (e) {
      if (last) throw e;
    }
    if (last) return false;
    await Bun.sleep(20);
  }
}
