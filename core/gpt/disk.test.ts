import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { truncateSync } from "node:fs";
import { openDisk, type DiskDevice } from "./device.ts";
import { readGpt, repairGpt, writeGpt, fitToDisk } from "./disk.ts";
import { addPartition, growLastPartition } from "./edit.ts";
import { emptyTable, MiB, type GptTable } from "./table.ts";
import { Attribute, PartitionType } from "./types.ts";
import { canLoop, have, loopAttach, sfdiskJson, sparseImage, tempDir, tool } from "../../test/disktools.ts";

const tmp = tempDir("bunker-gpt-");
afterAll(tmp.cleanup);
let n = 0;
const image = (bytes: number) => sparseImage(join(tmp.dir, `disk${n++}.img`), bytes);
const TOOLS = ["sgdisk", "sfdisk", "blkid", "parted"].every(have);

function sampleTable(bytes: number, sectorSize = 512): GptTable {
  let t = emptyTable(bytes, sectorSize);
  t = addPartition(t, { type: PartitionType.BIOS_BOOT, name: "BIOS", size: MiB, attributes: Attribute.LEGACY_BIOS_BOOTABLE });
  t = addPartition(t, { type: PartitionType.EFI, name: "EFI", size: 8 * MiB });
  t = addPartition(t, { type: PartitionType.LINUX_DATA, name: "DATA ünïcode", size: "rest" });
  return t;
}

function writeSample(bytes = 64 * MiB): { path: string; table: GptTable } {
  const path = image(bytes);
  const table = sampleTable(bytes);
  withDisk(path, (d) => writeGpt(d, table), true);
  return { path, table };
}

function withDisk<T>(path: string, f: (d: DiskDevice) => T, write = false): T {
  const d = openDisk(path, { write });
  try { return f(d); } finally { d.close(); }
}

/** sgdisk -v must say "No problems found" and nothing alarming (it exits 0 either way). */
function expectSgdiskClean(path: string) {
  const r = tool(["sgdisk", "-v", path]);
  expect(r.all).toContain("No problems found");
  expect(r.all).not.toMatch(/ERROR|Caution|Warning|corrupt|Problem:/i);
}

function expectToolsAgree(path: string, t: GptTable) {
  expectSgdiskClean(path);
  const v = tool(["sfdisk", "--verify", path]);
  expect(v.all).toContain("No errors detected");
  expect(v.all).not.toMatch(/corrupt/i);
  const j = sfdiskJson(path);
  expect(j.label).toBe("gpt");
  expect(j.id).toBe(t.diskGuid);
  expect(j.firstlba).toBe(t.firstUsableLba);
  expect(j.lastlba).toBe(t.lastUsableLba);
  expect((j.partitions ?? []).map((p) => ({ start: p.start, size: p.size, type: p.type, uuid: p.uuid, name: p.name ?? "" })))
    .toEqual(t.partitions.map((p) => ({ start: p.firstLba, size: p.lastLba - p.firstLba + 1, type: p.type, uuid: p.guid, name: p.name })));
  const b = tool(["blkid", "-p", path]);
  expect(b.out).toContain('PTTYPE="gpt"');
  expect(b.out).toContain(`PTUUID="${t.diskGuid.toLowerCase()}"`);
}

describe.skipIf(!TOOLS)("written tables, checked by sgdisk, sfdisk, blkid and parted", () => {
  test("a fresh table passes sgdisk -v, sfdisk --verify, and sfdisk/blkid read back our values", () => {
    const { path, table } = writeSample();
    expectToolsAgree(path, table);
    const j = sfdiskJson(path);
    expect(j.partitions?.[0]?.attrs).toBe("LegacyBIOSBootable");
    expect(j.partitions?.[1]?.attrs).toBeUndefined();
  });

  test("every partition is optimally aligned according to parted", () => {
    const { path, table } = writeSample();
    // In script mode (-s) parted answers align-check only by exit code; interactively it prints
    // "N aligned", which is what we assert on (stdin is empty, so it cannot wait for input).
    for (const p of table.partitions) {
      expect(tool(["parted", "-s", path, "align-check", "opt", String(p.index)]).code).toBe(0);
      expect(tool(["parted", path, "align-check", "opt", String(p.index)]).all.trim()).toBe(`${p.index} aligned`);
    }
    // And a partition that does not exist is not reported as aligned (the check can fail).
    expect(tool(["parted", path, "align-check", "opt", "9"]).all).not.toContain("9 aligned");
    const print = tool(["parted", "-s", path, "unit", "s", "print"]).all;
    expect(print).toContain("Partition Table: gpt");
    expect(print).toMatch(/1\s+2048s\s+4095s\s+2048s\s+BIOS\s+bios_grub, legacy_boot/);
    expect(print).toMatch(/3\s+20480s\s+\d+s\s+\d+s\s+DATA ünïcode/);
    expect(print).not.toMatch(/Error|Warning/);
  });

  test("we read tables that sgdisk wrote, GUIDs, names and attributes included", () => {
    const path = image(64 * MiB);
    const made = tool(["sgdisk", "-o", "-n", "1:2048:+1M", "-t", "1:EF02", "-c", "1:grub", "-A", "1:set:2",
      "-n", "2:0:+10M", "-t", "2:EF00", "-c", "2:ESP", "-n", "5:0:0", "-t", "5:8300", "-c", "5:root", path]);
    expect(made.all).toContain("The operation has completed successfully");
    const state = withDisk(path, readGpt);
    expect(state.problems).toEqual([]);
    const j = sfdiskJson(path);
    expect(state.table!.diskGuid).toBe(j.id);
    expect(state.table!.partitions.map((p) => ({ index: p.index, start: p.firstLba, size: p.lastLba - p.firstLba + 1, type: p.type, uuid: p.guid, name: p.name })))
      .toEqual(j.partitions!.map((p) => ({ index: Number(p.node.slice(path.length)), start: p.start, size: p.size, type: p.type, uuid: p.uuid, name: p.name ?? "" })));
    expect(state.table!.partitions[0]!.attributes).toBe(Attribute.LEGACY_BIOS_BOOTABLE);
    expect(state.table!.partitions.map((p) => p.index)).toEqual([1, 2, 5]);
  });

  test("re-reading our own table gives back exactly what was written", () => {
    const { path, table } = writeSample();
    const state = withDisk(path, readGpt);
    expect(state.problems).toEqual([]);
    expect(state.table).toEqual(table);
  });
});

/** Flips one byte at `offset` of the file. */
function flip(path: string, offset: number) {
  withDisk(path, (d) => { const b = d.read(offset, 1); b[0] = b[0]! ^ 0xff; d.write(offset, b); }, true);
}

describe.skipIf(!TOOLS)("corruption: detection and repair", () => {
  const last = (path: string) => withDisk(path, (d) => d.size / 512 - 1);
  const cases: { what: string; at: (path: string) => number; copy: "primary" | "backup"; reason: RegExp }[] = [
    { what: "primary header", at: () => 512 + 40, copy: "primary", reason: /header CRC32 mismatch/ },
    { what: "primary entry array", at: () => 1024 + 128 + 56, copy: "primary", reason: /entry array CRC32 mismatch/ },
    { what: "backup header", at: (p) => last(p) * 512 + 60, copy: "backup", reason: /header CRC32 mismatch/ },
    { what: "backup entry array", at: (p) => (last(p) - 32) * 512 + 10, copy: "backup", reason: /entry array CRC32 mismatch/ },
  ];
  for (const c of cases) {
    test(`a corrupt ${c.what} is detected, sgdisk agrees, and repair restores both copies`, () => {
      const { path, table } = writeSample();
      flip(path, c.at(path));
      const sg = tool(["sgdisk", "-v", path]);
      expect(sg.all).toMatch(/ERROR|CRC|corrupt/i);
      const state = withDisk(path, readGpt);
      expect(state[c.copy].ok).toBe(false);
      expect(state[c.copy === "primary" ? "backup" : "primary"].ok).toBe(true);
      expect(state.problems.join("\n")).toMatch(c.reason);
      expect(state.table).toEqual(table);
      const r = withDisk(path, repairGpt, true);
      expect(r.repaired).toBe(true);
      expect(r.state.problems).toEqual([]);
      expectToolsAgree(path, table);
    });
  }

  test("both copies corrupt: reported with both reasons, and repair refuses", () => {
    const { path } = writeSample();
    flip(path, 512 + 40);
    flip(path, last(path) * 512 + 60);
    const state = withDisk(path, readGpt);
    expect(state.present).toBe(true);
    expect(state.table).toBeNull();
    expect(state.problems.join("\n")).toMatch(/primary GPT at LBA 1: header CRC32[\s\S]*backup GPT at LBA \d+: header CRC32/);
    expect(() => withDisk(path, repairGpt, true)).toThrow(/both GPT copies are corrupt/);
  });

  test("a blank disk has no GPT, and says so", () => {
    const path = image(8 * MiB);
    const state = withDisk(path, readGpt);
    expect(state.present).toBe(false);
    expect(state.table).toBeNull();
    expect(() => withDisk(path, repairGpt, true)).toThrow(/no GPT to repair/);
  });

  test("a write torn after any number of sector writes leaves the old or the new table readable", () => {
    const { path, table: old } = writeSample();
    const next = addPartition({ ...old, partitions: old.partitions.slice(0, 2) }, { type: PartitionType.LINUX_DATA, name: "NEW", size: 16 * MiB });
    const outcomes = new Set<string>();
    for (let allowed = 0; allowed <= 6; allowed++) {
      withDisk(path, (d) => writeGpt(d, old), true);
      withDisk(path, (d) => {
        let writes = 0;
        const torn: DiskDevice = {
          ...d, path: d.path, size: d.size, sectorSize: d.sectorSize, read: d.read.bind(d), sync: d.sync.bind(d), close: d.close.bind(d),
          write(offset, data) { if (writes++ >= allowed) throw new Error("power cut"); d.write(offset, data); },
        };
        try { writeGpt(torn, next); } catch { /* the cut */ }
      }, true);
      if (allowed === 6) expect(withDisk(path, readGpt).problems).toEqual([]); // all 5 writes done
      const state = withDisk(path, readGpt);
      expect(state.table).not.toBeNull();
      // The table read is exactly one of the two: same partitions, same usable area.
      const key = (t: GptTable) => JSON.stringify([t.diskGuid, t.firstUsableLba, t.lastUsableLba,
        t.partitions.map((p) => [p.index, p.type, p.guid, p.firstLba, p.lastLba, String(p.attributes), p.name])]);
      expect([key(old), key(next)]).toContain(key(state.table!));
      outcomes.add(key(state.table!) === key(old) ? "old" : "new");
    }
    expect([...outcomes].sort()).toEqual(["new", "old"]);
  });
});

describe.skipIf(!TOOLS)("growing after the disk got bigger", () => {
  test("truncate enlarges the image: detected, backup moved to the end, last partition grown", () => {
    const { path, table } = writeSample(64 * MiB);
    truncateSync(path, 96 * MiB);
    const before = withDisk(path, readGpt);
    expect(before.problems.join("\n")).toMatch(/not at the disk's last LBA/);
    expect(before.table!.partitions).toEqual(table.partitions);
    // sgdisk notices the misplaced backup too.
    expect(tool(["sgdisk", "-v", path]).all).toMatch(/Problem|secondary header|not at the end/i);

    const grown = withDisk(path, (d) => {
      const fitted = fitToDisk(before.table!, d.size / d.sectorSize);
      const g = growLastPartition(fitted);
      writeGpt(d, g.table);
      return g;
    }, true);
    expect(grown.index).toBe(3);
    expect(grown.addedSectors).toBe(32 * MiB / 512);
    const after = withDisk(path, readGpt);
    expect(after.problems).toEqual([]);
    expectToolsAgree(path, grown.table);
    const data = sfdiskJson(path).partitions![2]!;
    expect((data.start + data.size) * 512).toBe(95 * MiB); // ends on the last whole MiB before the backup
  });

  test("a corrupt primary on a disk that grew: the backup is found where the primary pointed, and repair moves it", () => {
    const { path, table } = writeSample(64 * MiB);
    truncateSync(path, 80 * MiB);
    flip(path, 512 + 20); // inside the header CRC field, not AlternateLBA
    const state = withDisk(path, readGpt);
    expect(state.primary.ok).toBe(false);
    expect(state.backup).toMatchObject({ ok: true, lba: 64 * MiB / 512 - 1 });
    expect(state.table!.partitions).toEqual(table.partitions);
    const r = withDisk(path, repairGpt, true);
    expect(r.repaired).toBe(true);
    expect(r.state.problems).toEqual([]);
    expect(r.state.backup.lba).toBe(80 * MiB / 512 - 1);
    expectSgdiskClean(path);
  });

  test("growing a partition that already fills the disk changes nothing", () => {
    const { table } = writeSample();
    expect(growLastPartition(table).addedSectors).toBe(0);
  });
});

describe.skipIf(!TOOLS || !canLoop())("4096-byte sectors (loop device with --sector-size 4096; needs root)", () => {
  test("a table written through a 4K loop device is clean for sgdisk and sfdisk", () => {
    const path = image(64 * MiB);
    const loop = loopAttach(path, { sectorSize: 4096 });
    try {
      const table = withDisk(loop.dev, (d) => {
        expect(d.sectorSize).toBe(4096);
        expect(d.size).toBe(64 * MiB);
        const t = sampleTable(d.size, 4096);
        writeGpt(d, t);
        return t;
      }, true);
      expect(table.firstUsableLba).toBe(6);
      expect(table.partitions[0]!.firstLba).toBe(256);
      expectToolsAgree(loop.dev, table);
      expect(sfdiskJson(loop.dev).sectorsize).toBe(4096);
      expect(withDisk(loop.dev, readGpt).table).toEqual(table);
    } finally {
      loop.detach();
    }
  });
});
