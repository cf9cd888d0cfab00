import { expect, test } from "bun:test";
import { MiB, tableProblems } from "../gpt/gpt.ts";
import { Attribute, PartitionType } from "../gpt/types.ts";
import { plan, planText } from "./plan.ts";

const GiB = 1024 * MiB;

test("the layout on 10 GiB: seven partitions in order, 1 MiB aligned, EPHEMERAL takes the rest", () => {
  const p = plan(10 * GiB);
  expect(p.volumes.map((v) => [v.index, v.label, v.filesystem, v.size / MiB])).toEqual([
    [1, "EFI", "vfat", 100], [2, "BIOS", "none", 1], [3, "BOOT-A", "ext4", 256], [4, "BOOT-B", "ext4", 256],
    [5, "META", "none", 1], [6, "STATE", "ext4", 100], [7, "EPHEMERAL", "ext4", 10 * 1024 - 715 - 1],
  ]);
  expect(p.volumes[0]!.offset).toBe(MiB);
  for (const v of p.volumes) {
    expect(v.offset % MiB).toBe(0);
    expect(v.size % MiB).toBe(0);
  }
  for (let i = 1; i < p.volumes.length; i++) expect(p.volumes[i]!.offset).toBe(p.volumes[i - 1]!.offset + p.volumes[i - 1]!.size);
  expect(tableProblems(p.table)).toEqual([]);
  expect(p.volumes[0]!.type).toBe(PartitionType.EFI);
  expect(p.volumes[1]!.type).toBe(PartitionType.BIOS_BOOT);
  expect(p.table.partitions[1]!.attributes).toBe(Attribute.LEGACY_BIOS_BOOTABLE);
  expect(p.table.partitions.filter((x) => x.attributes !== 0n).length).toBe(1);
  expect(new Set(p.volumes.map((v) => v.guid)).size).toBe(7);
});

test("4096-byte sectors: same byte layout, LBAs divided by 8", () => {
  const a = plan(4 * GiB), b = plan(4 * GiB, { sectorSize: 4096 });
  expect(b.volumes.map((v) => [v.offset, v.size])).toEqual(a.volumes.map((v) => [v.offset, v.size]));
  expect(b.table.partitions[0]!.firstLba).toBe(256);
  expect(b.table.firstUsableLba).toBe(6);
});

test("a disk too small is refused, naming what the layout needs", () => {
  expect(() => plan(1 * GiB)).toThrow("layout: the disk has 1 GiB, the layout needs at least 1.7 GiB (714 MiB of fixed partitions + EPHEMERAL >= 1 GiB)");
  expect(plan(2 * GiB).volumes[6]!.size).toBe(2 * GiB - 716 * MiB);
});

test("settings change sizes and are checked", () => {
  const p = plan(8 * GiB, { bootSlotSize: 512 * MiB, stateSize: 200 * MiB, ephemeralFilesystem: "xfs" });
  expect(p.volumes[2]!.size).toBe(512 * MiB);
  expect(p.volumes[5]!.size).toBe(200 * MiB);
  expect(p.volumes[6]!.filesystem).toBe("xfs");
  expect(() => plan(8 * GiB, { stateSize: 100 * MiB + 1 })).toThrow("layout: stateSize 104857601 is not a positive multiple of 1 MiB");
  expect(() => plan(8 * GiB, { ephemeralFilesystem: "xfs", ephemeralMinSize: 100 * MiB })).toThrow(/needs ephemeralMinSize >= 300 MiB/);
});

test("a GUID seed gives the same GUIDs every time; without one they differ", () => {
  const a = plan(4 * GiB, { guidSeed: "image-1" }), b = plan(4 * GiB, { guidSeed: "image-1" });
  expect(b.table.diskGuid).toBe(a.table.diskGuid);
  expect(b.volumes.map((v) => v.guid)).toEqual(a.volumes.map((v) => v.guid));
  expect(plan(4 * GiB).table.diskGuid).not.toBe(plan(4 * GiB).table.diskGuid);
});

test("the human-readable table lists every partition with its size and type", () => {
  const text = planText(plan(10 * GiB, { guidSeed: "t" }));
  const lines = text.split("\n");
  expect(lines[0]).toMatch(/^disk 10 GiB, 512-byte sectors, GPT disk GUID [0-9A-F-]{36}$/);
  expect(lines[1]).toMatch(/^#\s+LABEL\s+START\s+SIZE\s+FS\s+TYPE\s+PURPOSE$/);
  expect(lines[3]).toMatch(/^2\s+BIOS\s+101 MiB\s+1 MiB\s+none\s+BIOS_BOOT \(legacy bootable\)/);
  expect(lines[8]).toMatch(/^7\s+EPHEMERAL\s+715 MiB\s+9\.3 GiB\s+ext4\s+LINUX_DATA/);
  expect(lines.length).toBe(9);
});
