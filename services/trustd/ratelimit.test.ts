import { expect, test } from "bun:test";
import { PeerBuckets } from "./ratelimit.ts";

test("a peer is refused once its burst of refusals is spent, and heard again after the refill", () => {
  let now = 0;
  const b = new PeerBuckets({ capacity: 3, refillPerSecond: 0.5, now: () => now });
  for (let i = 0; i < 3; i++) { expect(b.allowed("a")).toBe(true); b.take("a"); }
  expect(b.allowed("a")).toBe(false);
  expect(b.retryAfter("a")).toBe(2);
  expect(b.allowed("b")).toBe(true); // other peers are not affected
  now += 2000;
  expect(b.allowed("a")).toBe(true);
});

test("the table is bounded: the least suspect peer is forgotten first", () => {
  const b = new PeerBuckets({ capacity: 2, refillPerSecond: 0, maxPeers: 3, now: () => 0 });
  b.take("x"); b.take("x");
  b.take("y"); b.take("z");
  b.take("w");
  expect(b.size).toBe(3);
  expect(b.allowed("x")).toBe(false); // the spent one is still remembered
});
