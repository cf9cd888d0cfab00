import { expect, test } from "bun:test";
import { Backoff, doublingDelay } from "./backoff.ts";

test("the wait doubles from the base per failure in a row and stops at the cap", () => {
  expect([0, 1, 2, 3, 4, 5, 6].map((n) => doublingDelay(n, 500, 10_000))).toEqual([0, 500, 1000, 2000, 4000, 8000, 10_000]);
});

test("a very long outage stays at the cap, even with a zero base (never NaN or Infinity)", () => {
  expect(doublingDelay(5000, 100, 30_000)).toBe(30_000);
  expect(doublingDelay(5000, 0, 30_000)).toBe(0);
});

test("Backoff counts failures until a success resets it", () => {
  const b = new Backoff(2, 8);
  expect([b.fail(), b.fail(), b.fail(), b.fail()]).toEqual([2, 4, 8, 8]);
  expect(b.failures).toBe(4);
  b.reset();
  expect([b.failures, b.fail()]).toEqual([0, 2]);
});
