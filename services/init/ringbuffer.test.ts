import { expect, test } from "bun:test";
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
  const done = (async () => { for await (const c of r.follow(r.end, ac.signal)) { seen.push(dec(c)); if (seen.length === 2) ac.abort(); } })();
  await Bun.sleep(1);
  r.write(enc("new1\n"));
  await Bun.sleep(1);
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
