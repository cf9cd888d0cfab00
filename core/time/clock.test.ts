import { expect, test } from "bun:test";
import { backgroundClock, ManualClock, sleep, systemClock } from "./clock.ts";

test("a manual clock runs timers in time order as it is advanced, and only those due", () => {
  const c = new ManualClock(1000);
  const ran: string[] = [];
  c.setTimeout(() => ran.push(`b@${c.now()}`), 20);
  c.setTimeout(() => { ran.push(`a@${c.now()}`); c.setTimeout(() => ran.push(`a2@${c.now()}`), 5); }, 10);
  const cancel = c.setTimeout(() => ran.push("cancelled"), 15);
  cancel();
  expect(c.pending()).toEqual([10, 20]);
  c.advance(16);
  expect(ran).toEqual(["a@1010", "a2@1015"]);
  expect([c.now(), ...c.pending()]).toEqual([1016, 4]);
  c.advance(4);
  expect(ran).toEqual(["a@1010", "a2@1015", "b@1020"]);
  expect(c.pending()).toEqual([]);
  expect(() => c.advance(-1)).toThrow(/forward/);
});

test("sleep ends when the clock reaches it, or when its signal aborts", async () => {
  const c = new ManualClock();
  let done = false;
  const p = sleep(c, 50).then(() => { done = true; });
  c.advance(49);
  await Promise.resolve();
  expect(done).toBe(false);
  c.advance(1);
  await p;
  const ac = new AbortController();
  const q = sleep(c, 1_000_000, ac.signal);
  ac.abort();
  await q;
  expect(c.pending()).toEqual([]);
});

test("the system clock's timers fire and can be cancelled", async () => {
  let fired = false;
  systemClock.setTimeout(() => { fired = true; }, 0)();
  // A cancelled timer must not fire: only real time passing can show that it does not.
  await sleep(systemClock, 5);
  expect(fired).toBe(false);
  const before = Date.now();
  expect(systemClock.now()).toBeGreaterThanOrEqual(before);
});

test("the background clock's timers fire, on the system's time", async () => {
  const before = Date.now();
  const at = await new Promise<number>((resolve) => { backgroundClock.setTimeout(() => resolve(backgroundClock.now()), 1); });
  expect(at).toBeGreaterThanOrEqual(before);
});
