import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { openDisk, type DiskDevice } from "../gpt/device.ts";
import { readGpt } from "../gpt/disk.ts";
import { MiB } from "../gpt/table.ts";
import { applyLayout, existingContent } from "./apply.ts";
import { mkfsCommand } from "./format.ts";
import { plan, type LayoutPlan, type PlannedVolume } from "./plan.ts";
import { canLoop, have, loopAttach, sfdiskJson, sparseImage, tempDir, tool } from "../../test/disktools.ts";

const GiB = 1024 * MiB;
const tmp = tempDir("bunker-layout-");
afterAll(tmp.cleanup);
let n = 0;
const image = (bytes: number) => sparseImage(join(tmp.dir, `disk${n++}.img`), bytes);
const TOOLS = ["sgdisk", "sfdisk", "blkid", "mkfs.fat", "mke2fs", "e2fsck", "fsck.fat"].every(have);

function withDisk<T>(path: string, f: (d: DiskDevice) => T, write = false): T {
  const d = openDisk(path, { write });
  try { return f(d); } finally { d.close(); }
}

/** blkid -p -O OFFSET: what a tool nobody here wrote finds at a partition's start. */
function probe(path: string, v: PlannedVolume): string {
  return tool(["blkid", "-p", "-O", String(v.offset), path]).out;
}

/** fsck.fat reads only whole files: check a copy of the partition's bytes. */
function fsckFat(path: string, v: PlannedVolume): string {
  const copy = join(tmp.dir, `efi${n++}.img`);
  const r = tool(["dd", `if=${path}`, `of=${copy}`, "bs=1M", `skip=${v.offset / MiB}`, `count=${v.size / MiB}`, "status=none"]);
  expect(r.code).toBe(0);
  return tool(["fsck.fat", "-n", copy]).all;
}

function e2fsck(path: string, v: PlannedVolume): string {
  return tool(["e2fsck", "-fn", `${path}?offset=${v.offset}`]).all;
}

function expectFormatted(path: string, p: LayoutPlan) {
  const byLabel = (l: string) => p.volumes.find((v) => v.label === l)!;
  const efi = byLabel("EFI");
  expect(probe(path, efi)).toMatch(/LABEL="EFI".*VERSION="FAT32".*TYPE="vfat"/);
  const fat = fsckFat(path, efi);
  expect(fat).toMatch(/: \d+ files, \d+\/\d+ clusters/); // fsck.fat's summary of a clean FAT
  expect(fat).not.toMatch(/Dirty|error|corrupt|Fix\?/i);
  for (const label of ["BOOT-A", "BOOT-B", "STATE", "EPHEMERAL"]) {
    const v = byLabel(label);
    expect(probe(path, v)).toContain(`LABEL="${label}"`);
    expect(probe(path, v)).toContain('TYPE="ext4"');
    const out = e2fsck(path, v);
    // "LABEL: 11/N files (...), B/M blocks" is e2fsck's summary of a clean filesystem.
    expect(out).toMatch(new RegExp(`${label}: \\d+/\\d+ files .*, \\d+/${v.size / 4096} blocks`));
    expect(out).not.toMatch(/error|corrupt|Fix\?|UNEXPECTED/i);
  }
  for (const label of ["BIOS", "META"]) expect(probe(path, byLabel(label))).toBe(""); // raw, zeroed
}

describe.skipIf(!TOOLS)("applying the layout to an image file", () => {
  test("a blank 2 GiB image gets the table and filesystems; sgdisk, sfdisk, blkid and fsck agree", () => {
    const path = image(2 * GiB);
    const p = plan(2 * GiB);
    const steps: string[] = [];
    const r = withDisk(path, (d) => applyLayout(d, p, { wipe: false, progress: (s) => steps.push(s) }), true);
    expect(r.wiped).toEqual([]);
    expect(r.formatted).toEqual(["EFI", "BOOT-A", "BOOT-B", "STATE", "EPHEMERAL"]);
    expect(steps[0]).toMatch(/^clearing old signatures/);
    expect(steps.filter((s) => s.startsWith("making")).length).toBe(5);
    const sg = tool(["sgdisk", "-v", path]).all;
    expect(sg).toContain("No problems found");
    expect(sg).not.toMatch(/ERROR|Caution|Warning|Problem:/);
    expect(tool(["sfdisk", "--verify", path]).all).toContain("No errors detected");
    const j = sfdiskJson(path);
    expect(j.partitions!.map((x) => [x.name, x.start * 512, x.size * 512])).toEqual(p.volumes.map((v) => [v.label, v.offset, v.size]));
    expect(j.partitions![1]!.attrs).toBe("LegacyBIOSBootable");
    expectFormatted(path, p);
    expect(withDisk(path, readGpt).problems).toEqual([]);
  }, 120_000);

  test("a disk with partitions is refused without wipe, and left byte-for-byte as it was", async () => {
    const path = image(2 * GiB);
    expect(tool(["sgdisk", "-o", "-n", "1:0:+100M", "-c", "1:precious", path]).code).toBe(0);
    const before = await Bun.file(path).slice(0, 4 * MiB).bytes();
    const p = plan(2 * GiB);
    expect(() => withDisk(path, (d) => applyLayout(d, p, { wipe: false }), true))
      .toThrow(/is not blank \(it holds a GPT with 1 partition\(s\): precious\); refusing to write without wipe/);
    const after = await Bun.file(path).slice(0, 4 * MiB).bytes();
    expect(Buffer.from(after).equals(Buffer.from(before))).toBe(true);
    const r = withDisk(path, (d) => applyLayout(d, p, { wipe: true, format: false }), true);
    expect(r.wiped).toEqual(["a GPT with 1 partition(s): precious"]);
    expect(sfdiskJson(path).partitions!.map((x) => x.name)).toEqual(p.volumes.map((v) => v.label));
  }, 60_000);

  test("existingContent sees a bare filesystem and an MBR, not only a GPT", () => {
    const fsImg = image(64 * MiB);
    expect(tool(["mke2fs", "-t", "ext4", "-F", "-q", fsImg]).code).toBe(0);
    expect(withDisk(fsImg, existingContent)).toEqual(["data in the first MiB (perhaps a filesystem)"]);
    const mbrImg = image(64 * MiB);
    const sf = Bun.spawnSync(["sfdisk", "-q", mbrImg], { stdin: Buffer.from("label: dos\n,10M,83\n"), env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } });
    expect(sf.exitCode).toBe(0);
    expect(withDisk(mbrImg, existingContent)).toEqual(["an MBR boot sector (possibly MBR partitions or a filesystem)"]);
    expect(withDisk(image(64 * MiB), existingContent)).toEqual([]);
  });

  test("a plan for another size or sector size is refused", () => {
    const path = image(3 * GiB);
    expect(() => withDisk(path, (d) => applyLayout(d, plan(2 * GiB), { wipe: true }), true)).toThrow(/plan is for a disk of 2147483648 bytes, this one has 3221225472/);
    expect(() => withDisk(path, (d) => applyLayout(d, plan(3 * GiB, { sectorSize: 4096 }), { wipe: true }), true)).toThrow(/plan is for 4096-byte sectors, the disk has 512/);
  });

  test("mkfs.xfs cannot write at an offset inside a file, and says so", () => {
    expect(() => mkfsCommand("xfs", "EPHEMERAL", { path: "disk.img", offset: MiB, size: GiB, sectorSize: 512 })).toThrow(/mkfs.xfs cannot write at an offset \(1048576\) inside disk.img/);
  });
});

describe.skipIf(!TOOLS || !have("xfs_repair") || !canLoop())("through loop devices (losetup -o/--sizelimit; needs root)", () => {
  test("EPHEMERAL on xfs, made on a loop device over its slice: xfs_repair -n is clean", () => {
    const path = image(2 * GiB);
    const p = plan(2 * GiB, { ephemeralFilesystem: "xfs", ephemeralMinSize: 300 * MiB });
    const loops: { dev: string; detach: () => void }[] = [];
    try {
      withDisk(path, (d) => applyLayout(d, p, {
        wipe: false,
        targetFor: (v) => {
          if (v.filesystem !== "xfs") return { path, offset: v.offset, size: v.size, sectorSize: 512 };
          const l = loopAttach(path, { offset: v.offset, sizelimit: v.size });
          loops.push(l);
          return { path: l.dev, offset: 0, size: v.size, sectorSize: 512 };
        },
      }), true);
      const eph = p.volumes[6]!;
      expect(probe(path, eph)).toMatch(/LABEL="EPHEMERAL".*TYPE="xfs"/);
      const repair = tool(["xfs_repair", "-n", loops[0]!.dev]).all;
      expect(repair).toContain("No modify flag set, skipping filesystem flush and exiting.");
      expect(repair).not.toMatch(/error|corrupt|would fix|bad /i);
    } finally {
      for (const l of loops) l.detach();
    }
  }, 120_000);

  test("a 4096-byte-sector disk: the layout and its filesystems pass the same checks", () => {
    const path = image(2 * GiB);
    const loop = loopAttach(path, { sectorSize: 4096 });
    try {
      const p = plan(2 * GiB, { sectorSize: 4096 });
      withDisk(loop.dev, (d) => applyLayout(d, p, { wipe: false }), true);
      const sg = tool(["sgdisk", "-v", loop.dev]).all;
      expect(sg).toContain("No problems found");
      expect(sg).not.toMatch(/ERROR|Caution|Warning|Problem:/);
      const j = sfdiskJson(loop.dev);
      expect(j.sectorsize).toBe(4096);
      expect(j.partitions!.map((x) => [x.name, x.start * 4096, x.size * 4096])).toEqual(p.volumes.map((v) => [v.label, v.offset, v.size]));
    } finally {
      loop.detach();
    }
    // The filesystems sit at the same byte offsets whatever the sector size.
    expectFormatted(path, plan(2 * GiB, { sectorSize: 4096 }));
  }, 120_000);
});
