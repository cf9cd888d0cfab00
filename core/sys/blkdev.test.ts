import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { rereadPartitions } from "./blkdev.ts";
import { SysError } from "./libc.ts";
import { canLoop, sparseImage, tempDir, tool } from "../../test/disktools.ts";

const tmp = tempDir("bunker-blkdev-");
afterAll(tmp.cleanup);

function attach(args: string[]): string {
  const img = sparseImage(join(tmp.dir, `d${Math.random().toString(36).slice(2)}.img`), 64 * 2 ** 20);
  expect(tool(["sgdisk", "-o", "-n", "1:0:+8M", img]).code).toBe(0);
  const r = tool(["losetup", "-f", "--show", ...args, img]);
  expect(r.code).toBe(0);
  return r.out.trim();
}

describe.skipIf(!canLoop())("BLKRRPART on loop devices (needs root to attach them)", () => {
  test("succeeds on a partition-scanning loop device, EINVAL on one without -P", () => {
    const scanning = attach(["-P"]);
    const plain = attach([]);
    try {
      expect(() => rereadPartitions(scanning)).not.toThrow();
      let err: unknown;
      try { rereadPartitions(plain); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(SysError);
      expect((err as SysError).errno).toBe(22);
      expect((err as SysError).message).toContain(`ioctl(BLKRRPART) ${plain}: Invalid argument`);
    } finally {
      tool(["losetup", "-d", scanning]);
      tool(["losetup", "-d", plain]);
    }
  });
});

test("a path that does not exist is an error naming it", () => {
  expect(() => rereadPartitions("/dev/does-not-exist-bunker")).toThrow(/does-not-exist-bunker/);
});
