import { expect, test } from "bun:test";
import { nextTurn } from "../../test/lib/eventually.ts";
import { RingBuffer } from "./ringbuffer.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

test("keeps only the last `capacity` bytes and reports what a late reader skipped", () => {
  const r = new RingBuffer(10);
  r.write(enc("abcdef"));
  r.write(enc("ghijklm"));
  expect(r.end).toBe(13);
  expect(r.start).toBe(3);
  const got = r.read(0);
  expect(dec(got.data)).toBe("defghijklm");
  expect(got.skipped).toBe(3);
  expect(dec(r.read(11).data)).toBe("lm");
  r.write(enc("0123456789ABCDEF")); // bigger than the ring
  expect(dec(r.read(0).data)).toBe("6789ABCDEF");
});

test("tail returns the last N whole lines, dropping a line cut by the wrap", () => {
  const r = new RingBuffer(16);
  r.write(enc("line1\nline2\nline3\n"));
  expect(r.tail(2)).toBe("line2\nline3\n");
  expect(r.tail(10)).toBe("line2\nline3\n"); // "line1" lost its first bytes to the wrap
  const big = new RingBuffer(1 << 10);
  big.write(enc("a\nb\nc"));
  expect(big.tail(1)).toBe("c");
  expect(big.tail(5)).toBe("a\nb\nc");
});

test("follow yields what is written after it starts and ends on abort", async () => {
  const r = new RingBuffer(64);
  r.write(enc("old\n"));
  const ac = new AbortController();
  const seen: string[] = [];
  const done = (async () => { for await (const c of r.follow(r.end, ac.signal)) { seen.push(dec(c.data)); if (seen.length === 2) ac.abort(); } })();
  // A turn of the event loop lets the follower park on its wait, so the writes below test the
  // wake-up path rather than a follower that finds the data already there.
  await nextTurn();
  r.write(enc("new1\n"));
  await nextTurn();
  r.write(enc("new2\n"));
  await done;
  expect(seen).toEqual(["new1\n", "new2\n"]);
});

test("memory stays bounded: 10 MB through a 1 MiB ring keeps 1 MiB", () => {
  const r = new RingBuffer();
  const chunk = enc("x".repeat(4095) + "\n");
  for (let i = 0; i < 2560; i++) r.write(chunk);
  expect(r.end).toBe(2560 * 4096);
  expect(r.read(0).data.byteLength).toBe(1 << 20);
});

test("each write is dated and tagged with its stream; segments keep them across the wrap and the mark limit", () => {
  const r = new RingBuffer(16);
  r.write(enc("a1\n"), "stdout", 1000);
  r.write(enc("b22\n"), "stderr", 2000);
  r.write(enc("c333\n"), "stdout", 3000);
  expect(r.segments(0).segments.map((s) => [dec(s.data), s.time, s.stream])).toEqual([["a1\n", 1000, "stdout"], ["b22\n", 2000, "stderr"], ["c333\n", 3000, "stdout"]]);
  // Reading from inside a write dates the bytes by that write.
  expect(r.segments(5).segments.map((s) => [dec(s.data), s.time])).toEqual([["2\n", 2000], ["c333\n", 3000]]);
  r.write(enc("d4444\n"), "stdout", 4000); // 18 bytes written: "a1" wrapped away
  const kept = r.segments(0);
  expect(kept.segments.map((s) => [dec(s.data), s.time])).toEqual([["\n", 1000], ["b22\n", 2000], ["c333\n", 3000], ["d4444\n", 4000]]);
  expect(kept.next).toBe(18);
  const many = new RingBuffer(1 << 20);
  for (let i = 0; i < 20_000; i++) many.write(enc(`${i}\n`), "stdout", i);
  const segs = many.segments(0).segments;
  expect(segs.at(-1)).toMatchObject({ time: 19_999 });
  // Marks are bounded: the oldest bytes take the time of the oldest mark kept.
  expect(segs.length).toBeLessThanOrEqual(1 << 14);
  expect(dec(segs[0]!.data).startsWith("0\n")).toBe(true);
});
