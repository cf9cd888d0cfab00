import { expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { crc32 } from "./crc32.ts";

test("crc32 gives the standard check value for \"123456789\"", () => {
  expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
  expect(crc32(new Uint8Array(0))).toBe(0);
});

test("crc32 agrees with Bun's own (zlib-compatible) CRC-32 on random data", () => {
  for (const n of [1, 92, 511, 16384]) {
    const data = randomBytes(n);
    expect(crc32(data)).toBe(Bun.hash.crc32(data));
  }
});
