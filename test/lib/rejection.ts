/**
 * The error a promise rejects with. Tests use it instead of `await expect(p).rejects`, which in
 * this Bun waits on the event loop in a way that can sit until the next unrelated timer fires
 * (hundreds of ms per call while a Machine's background timers run), enough to push a test with
 * many rejections past its timeout on a slow machine.
 */
export async function rejection(p: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await p;
  } catch (err) {
    return err as Error & Record<string, unknown>;
  }
  throw new Error("expected the call to fail, and it succeeded");
}
