import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { openDisk } from "./device.ts";
import { addPartition } from "./edit.ts";
import { checkProtectiveMbr, emptyTable, encodeProtectiveMbr, MiB, tableProblems } from "./table.ts";
import { PartitionType } from "./types.ts";
import { sparseImage, tempDir } from "../../test/disktools.ts";

const tmp = tempDir("bunker-table-");
afterAll(tmp.cleanup);

test("the protective MBR covers the disk and caps at 2^32-1 sectors on disks over 2 TiB", () => {
  const small = new DataView(encodeProtectiveMbr(131072, 512).buffer);
  expect(small.getUint8(446 + 4)).toBe(0xee);
  expect(small.getUint32(446 + 8, true)).toBe(1);
  expect(small.getUint32(446 + 12, true)).toBe(131071);
  expect(small.getUint16(510, true)).toBe(0xaa55);
  const big = new DataView(encodeProtectiveMbr(2 ** 33, 512).buffer);
  expect(big.getUint32(446 + 12, true)).toBe(0xffffffff);
  expect(checkProtectiveMbr(encodeProtectiveMbr(100, 4096))).toEqual({ ok: true });
  expect(checkProtectiveMbr(new Uint8Array(512))).toEqual({ ok: false, reason: "no 55 AA boot signature in LBA 0" });
});

test("addPartition aligns, refuses what does not fit, and tableProblems catches overlaps and bad names", () => {
  let t = emptyTable(16 * MiB);
  t = addPartition(t, { type: PartitionType.LINUX_DATA, name: "a", size: 4 * MiB });
  expect(t.partitions[0]!.firstLba).toBe(2048);
  expect(() => addPartition(t, { type: PartitionType.LINUX_DATA, name: "b", size: 3 * MiB + 512 })).toThrow('partition "b": size 3146240 is not a positive multiple of 1 MiB');
  expect(() => addPartition(t, { type: PartitionType.LINUX_DATA, name: "c", size: 16 * MiB })).toThrow(/partition "c": does not fit \(16777216 bytes wanted, 10485760 bytes free from LBA 10240\)/);
  const overlapping = { ...t, partitions: [...t.partitions, { ...t.partitions[0]!, index: 2, guid: "11111111-2222-3333-4444-555555555555", firstLba: 4096 }] };
  expect(tableProblems(overlapping)).toEqual(["partitions 1 and 2 overlap (sectors 4096-10239)"]);
  const longName = { ...t, partitions: [{ ...t.partitions[0]!, name: "x".repeat(37) }] };
  expect(tableProblems(longName)).toEqual(['partition 1 ("' + "x".repeat(37) + '"): name longer than 36 UTF-16 units']);
  expect(() => emptyTable(MiB)).toThrow("a disk of 1048576 bytes is too small for a GPT with 1 MiB alignment");
  expect(() => emptyTable(64 * MiB, 1024)).toThrow("sector size 1024: only 512 and 4096 are supported");
});

test("openDisk refuses what is not a file or block device, and reads outside the disk", () => {
  expect(() => openDisk(tmp.dir)).toThrow(`${tmp.dir}: neither a regular file nor a block device`);
  const path = sparseImage(join(tmp.dir, "x.img"), MiB);
  const d = openDisk(path);
  try {
    expect(d.size).toBe(MiB);
    expect(() => d.read(MiB - 10, 20)).toThrow(`${path}: read of 20 bytes at 1048566 is outside the disk (1048576 bytes)`);
    expect(() => d.write(0, new Uint8Array(1))).toThrow(); // opened read-only
  } finally {
    d.close();
  }
  expect(() => openDisk(path, { sectorSize: 2048 })).toThrow("unsupported sector size 2048");
});
