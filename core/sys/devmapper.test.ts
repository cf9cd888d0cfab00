import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dmDeviceByName, encodeDmIoctl } from "./devmapper.ts";

const dir = mkdtempSync(join(tmpdir(), "devmapper-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("a device-mapper device is found by its name in sysfs, and only a dm one", () => {
  for (const [dev, name] of [["dm-0", "bunker-root"], ["dm-1", "bunker-ext-etcd"]]) {
    mkdirSync(join(dir, dev!, "dm"), { recursive: true });
    writeFileSync(join(dir, dev!, "dm/name"), `${name}\n`);
  }
  mkdirSync(join(dir, "loop0"), { recursive: true });
  expect(dmDeviceByName("bunker-ext-etcd", dir)).toBe("/dev/dm-1");
  expect(dmDeviceByName("bunker-root", dir)).toBe("/dev/dm-0");
  expect(dmDeviceByName("loop0", dir)).toBeUndefined();
  expect(dmDeviceByName("bunker-root", join(dir, "absent"))).toBeUndefined();
});

test("struct dm_ioctl: version 4, data size and start 312, the name at byte 48; names too long are refused", () => {
  const b = encodeDmIoctl("bunker-ext-etcd");
  expect(b.byteLength).toBe(312);
  expect([b.readUInt32LE(0), b.readUInt32LE(12), b.readUInt32LE(16)]).toEqual([4, 312, 312]);
  expect(b.subarray(48, 48 + 15).toString()).toBe("bunker-ext-etcd");
  expect(b[48 + 15]).toBe(0);
  expect(() => encodeDmIoctl("x".repeat(128))).toThrow("must be 1 to 127 bytes");
  expect(() => encodeDmIoctl("")).toThrow();
});
