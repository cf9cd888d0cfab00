import { expect, test } from "bun:test";
import { formatBytes } from "./bytes.ts";

const KiB = 1024, MiB = 2 ** 20, GiB = 2 ** 30;

test("whole sizes print whole, others with one decimal", () => {
  expect([0, 512, 1536, 511 * MiB, 20 * GiB, 8 * GiB, 3.3 * GiB, 12345 * MiB + 1].map(formatBytes))
    .toEqual(["0 B", "512 B", "1.5 KiB", "511 MiB", "20 GiB", "8 GiB", "3.3 GiB", "12.1 GiB"]);
});

test("a size just under the next unit is that unit, not 1024.0 of this one", () => {
  expect(formatBytes(MiB - 1)).toBe("1.0 MiB");
  expect(formatBytes(GiB - 1)).toBe("1.0 GiB");
  expect(formatBytes(1023 * KiB + 1)).toBe("1023.0 KiB");
});

test("the largest unit keeps counting", () => {
  expect(formatBytes(2048 * 2 ** 50)).toBe("2048 PiB");
});
