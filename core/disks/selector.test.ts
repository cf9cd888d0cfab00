import { expect, test } from "bun:test";
import type { Disk } from "./disk.ts";
import { globToRegExp, matchDisks, mismatches, parseSizeCondition, selectInstallDisk } from "./selector.ts";

const GiB = 2 ** 30;
function disk(over: Partial<Disk>): Disk {
  return {
    name: "vda", devPath: "/dev/vda", size: 20 * GiB, sectorSize: 512, transport: "virtio", type: "ssd",
    rotational: false, readOnly: false, removable: false, partitions: [], ...over,
  };
}
const disks = [
  disk({ name: "nvme0n1", size: 1000204886016, transport: "nvme", type: "nvme", model: "Samsung SSD 980 1TB", serial: "S649", wwid: "eui.0025" }),
  disk({ name: "sda", size: 1e12, transport: "sata", type: "hdd", rotational: true, model: "ST1000DM003-1SB1" }),
  disk({ name: "sr0", size: 700 * 2 ** 20, transport: "sata", type: "cd", readOnly: true, model: "QEMU DVD-ROM" }),
  disk({ name: "vda", size: 8 * GiB }),
];

test("size expressions: operators, decimal and binary units, spaces optional", () => {
  expect(parseSizeCondition(">= 10GB")).toEqual({ op: ">=", bytes: 10e9, text: ">= 10GB" });
  expect(parseSizeCondition("<2TiB")).toMatchObject({ op: "<", bytes: 2 * 2 ** 40 });
  expect(parseSizeCondition("8GiB")).toMatchObject({ op: "==", bytes: 8 * GiB });
  expect(parseSizeCondition("= 1.5 gb")).toMatchObject({ op: "==", bytes: 1.5e9 });
  expect(() => parseSizeCondition("about 10GB")).toThrow(/diskSelector.size "about 10GB": expected \[op\] number \[unit\]/);
  expect(() => parseSizeCondition(">= 10XB")).toThrow(/expected/);
});

test("globs match whole values, case-sensitively", () => {
  expect(globToRegExp("Samsung*").test("Samsung SSD 980")).toBe(true);
  expect(globToRegExp("Samsung").test("Samsung SSD 980")).toBe(false);
  expect(globToRegExp("ST1000DM00?-*").test("ST1000DM003-1SB1")).toBe(true);
  expect(globToRegExp("a.b").test("axb")).toBe(false);
});

test("selectors combine fields; each disk says why it did not match", () => {
  expect(matchDisks(disks, { size: parseSizeCondition(">= 500GB") }).map((d) => d.name)).toEqual(["nvme0n1", "sda"]);
  expect(matchDisks(disks, { size: parseSizeCondition(">= 500GB"), type: "hdd" }).map((d) => d.name)).toEqual(["sda"]);
  expect(matchDisks(disks, { model: "Samsung*" }).map((d) => d.name)).toEqual(["nvme0n1"]);
  expect(matchDisks(disks, { transport: "virtio", size: parseSizeCondition("<= 10GiB") }).map((d) => d.name)).toEqual(["vda"]);
  expect(matchDisks(disks, {}).map((d) => d.name)).toEqual(["nvme0n1", "sda", "vda"]); // never the CD
  expect(mismatches(disks[3]!, { size: parseSizeCondition(">= 10GB"), model: "x*" })).toEqual(['size 8589934592 bytes is not >= 10GB', 'model is unknown (wanted "x*")']);
});

test("selectInstallDisk picks the first match or explains every disk", () => {
  expect(selectInstallDisk(disks, { type: "nvme" }).name).toBe("nvme0n1");
  expect(() => selectInstallDisk(disks, { size: parseSizeCondition(">= 2TB") })).toThrow(
    'no disk matches diskSelector {"size":">= 2TB"} (nvme0n1: size 1000204886016 bytes is not >= 2TB; sda: size 1000000000000 bytes is not >= 2TB; sr0: read-only; vda: size 8589934592 bytes is not >= 2TB)');
  expect(() => selectInstallDisk([], {})).toThrow("no disk matches diskSelector {} (no disks found)");
});
