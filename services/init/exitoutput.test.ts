import { expect, test } from "bun:test";
import { EXIT_OUTPUT_BYTES, exitOutput } from "./exitoutput.ts";
import { RingBuffer } from "./ringbuffer.ts";

test("exitOutput: only the run's own bytes, at most 10 lines and 2 KiB, a cut line dropped or marked", () => {
  const rb = new RingBuffer(1 << 16);
  const enc = (s: string) => new TextEncoder().encode(s);
  rb.write(enc("before\n"));
  const from = rb.end;
  expect(exitOutput(rb, from)).toEqual([]);
  rb.write(enc("a\nb\n"));
  expect(exitOutput(rb, from)).toEqual(["a", "b"]);
  rb.write(enc(`${"y".repeat(3000)}\nlast\n`));
  expect(exitOutput(rb, from)).toEqual(["last"]);
  const r2 = new RingBuffer(1 << 16);
  r2.write(enc("z".repeat(5000)));
  const one = exitOutput(r2, 0);
  expect(one).toHaveLength(1);
  expect(one[0]!.startsWith("…")).toBe(true);
  expect(Buffer.byteLength(one[0]!)).toBeLessThanOrEqual(EXIT_OUTPUT_BYTES + 4);
});
