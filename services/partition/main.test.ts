import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, openSync, readSync, writeSync, closeSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { openDisk } from "../../core/gpt/device.ts";
import { readGpt } from "../../core/gpt/disk.ts";
import { metaLocation } from "../../core/disklayout/volumes.ts";
import { Tag } from "../../core/meta/block.ts";
import { setText, updateMeta } from "../../core/meta/store.ts";
import { have, sfdiskJson, sparseImage, tempDir, tool } from "../../test/disktools.ts";

// The compiled binary that scripts/test.sh builds: what an operator runs on the console.
const bin = resolve(import.meta.dir, "../../out/bunker");
const MiB = 2 ** 20, GiB = 2 ** 30;
const tmp = tempDir("bunker-partition-");
afterAll(tmp.cleanup);
let n = 0;
const image = (bytes: number) => sparseImage(join(tmp.dir, `disk${n++}.img`), bytes);
const TOOLS = ["sgdisk", "sfdisk", "blkid", "mkfs.fat", "mke2fs"].every(have);

beforeAll(() => {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run scripts/build.ts first`);
});

function run(...args: string[]) {
  const r = Bun.spawnSync([bin, "partition", ...args], { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" }, timeout: 120_000 });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

function bytesAt(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, "r");
  try { const b = Buffer.alloc(length); readSync(fd, b, 0, length, offset); return b; } finally { closeSync(fd); }
}
const allZero = (b: Buffer) => b.every((x) => x === 0);

test("without a disk named, apply and plan refuse with a usage error (exit 2)", () => {
  for (const cmd of ["apply", "plan"]) {
    const r = run(cmd);
    expect(r.code).toBe(2);
    expect(r.err).toContain("name the disk: --disk PATH or --select FIELD=VALUE");
  }
  expect(run("frobnicate").code).toBe(2);
  expect(run("show", "--bogus").code).toBe(2);
  expect(run("apply", "--disk", "x", "--select", "type=ssd").err).toContain("give --disk or --select, not both");
});

test("show lists disks from sysfs (a fixture tree), as text and as JSON", () => {
  const sys = join(tmp.dir, "sys");
  const blk = join(sys, "devices/pci0000:00/0000:00:04.0/virtio2/block/vdb");
  mkdirSync(join(blk, "queue"), { recursive: true });
  writeFileSync(join(blk, "size"), String((12 * GiB) / 512));
  writeFileSync(join(blk, "serial"), "fixture-1");
  mkdirSync(join(sys, "block"));
  symlinkSync("../devices/pci0000:00/0000:00:04.0/virtio2/block/vdb", join(sys, "block/vdb"));
  const text = run("show", "--sysfs", sys);
  expect(text.code).toBe(0);
  expect(text.out).toMatch(/^DISK\s+SIZE\s+TYPE\s+TRANSPORT\s+MODEL\s+SERIAL\s+RO\s+PARTITIONS\n\/dev\/vdb\s+12 GiB\s+ssd\s+virtio\s+-\s+fixture-1\s+no\s+0\n$/);
  const json = JSON.parse(run("show", "--sysfs", sys, "-o", "json").out);
  expect(json).toHaveLength(1);
  expect(json[0]).toMatchObject({ name: "vdb", size: 12 * GiB, transport: "virtio", serial: "fixture-1" });
  // --select resolves to that disk and only that one: its /dev node does not exist here.
  const sel = run("apply", "--select", "transport=virtio", "--select", "size=>= 10GB", "--sysfs", sys, "--dry-run");
  expect(sel.code).toBe(1);
  expect(sel.err).toContain("/dev/vdb");
  const none = run("apply", "--select", "size=>= 20GB", "--sysfs", sys, "--dry-run");
  expect(none.code).toBe(1);
  expect(none.err).toContain('no disk matches diskSelector {"size":">= 20GB"} (vdb: size 12884901888 bytes is not >= 20GB)');
});

test.skipIf(!TOOLS)("plan and apply --dry-run show the layout and write nothing", () => {
  const path = image(4 * GiB);
  const plan = JSON.parse(run("plan", "--disk", path, "-o", "json").out);
  expect(plan.volumes.map((v: { label: string }) => v.label)).toEqual(["EFI", "BIOS", "BOOT-A", "BOOT-B", "META", "STATE", "EPHEMERAL"]);
  const dry = run("apply", "--disk", path, "--dry-run");
  expect(dry.code).toBe(0);
  expect(dry.out).toContain(`dry run: nothing is written to ${path}`);
  expect(dry.out).toMatch(/7\s+EPHEMERAL\s+715 MiB\s+3\.3 GiB\s+ext4/);
  expect(dry.out).toContain("the disk is blank");
  expect(allZero(bytesAt(path, 0, MiB))).toBe(true);
  expect(allZero(bytesAt(path, 4 * GiB - MiB, MiB))).toBe(true);
});

test.skipIf(!TOOLS)("apply writes the layout; a second apply is refused without --wipe and changes nothing; --wipe redoes it", () => {
  const path = image(3 * GiB);
  const first = run("apply", "--disk", path);
  expect(first.err).toBe("");
  expect(first.code).toBe(0);
  expect(first.out).toContain("- writing the partition table (7 partitions)");
  expect(first.out).toContain(`${path}: layout written; formatted EFI, BOOT-A, BOOT-B, STATE, EPHEMERAL`);
  expect(tool(["sgdisk", "-v", path]).all).toContain("No problems found");
  const before = sfdiskJson(path);
  expect(before.partitions!.map((p) => p.name)).toEqual(["EFI", "BIOS", "BOOT-A", "BOOT-B", "META", "STATE", "EPHEMERAL"]);
  expect(tool(["blkid", "-p", "-O", String(615 * MiB), path]).out).toContain('LABEL="STATE"');
  const head = bytesAt(path, 0, 2 * MiB);

  const dry = run("apply", "--disk", path, "--dry-run");
  expect(dry.code).toBe(1);
  expect(dry.out).toContain("would destroy: a GPT with 7 partition(s): EFI, BIOS, BOOT-A, BOOT-B, META, STATE, EPHEMERAL (refused without --wipe)");
  const refused = run("apply", "--disk", path);
  expect(refused.code).toBe(1);
  expect(refused.err).toContain("refusing to write without wipe");
  expect(bytesAt(path, 0, 2 * MiB).equals(head)).toBe(true);

  const wiped = run("apply", "--disk", path, "--wipe", "--no-format", "-o", "json");
  expect(wiped.code).toBe(0);
  const j = JSON.parse(wiped.out);
  expect(j.wiped).toEqual(["a GPT with 7 partition(s): EFI, BIOS, BOOT-A, BOOT-B, META, STATE, EPHEMERAL"]);
  expect(j.formatted).toEqual([]);
  expect(sfdiskJson(path).id).not.toBe(before.id); // a new table, new disk GUID
  expect(tool(["blkid", "-p", "-O", String(615 * MiB), path]).out).toBe(""); // old STATE signature cleared
}, 120_000);

test.skipIf(!TOOLS)("show reports a corrupt primary (exit 1), repair fixes it, grow fills an enlarged disk", () => {
  const path = image(2 * GiB);
  expect(run("apply", "--disk", path, "--no-format").code).toBe(0);
  const fd = openSync(path, "r+");
  try { writeSync(fd, Buffer.from([0xde, 0xad]), 0, 2, 512 + 60); } finally { closeSync(fd); } // inside the primary header
  const bad = run("show", path);
  expect(bad.code).toBe(1);
  expect(bad.out).toMatch(/primary GPT \(LBA 1\): header CRC32 mismatch/);
  expect(bad.out).toContain("backup GPT (LBA 4194303): ok");
  expect(tool(["sgdisk", "-v", path]).all).toMatch(/Main header: ERROR|CRC/);
  const fixed = run("repair", path);
  expect(fixed.code).toBe(0);
  expect(fixed.out).toContain("repaired:");
  expect(run("show", path).code).toBe(0);
  expect(tool(["sgdisk", "-v", path]).all).toContain("No problems found");
  expect(run("repair", path).out).toContain("nothing to repair");

  truncateSync(path, 3 * GiB);
  expect(run("show", path).out).toContain("not at the disk's last LBA");
  const grown = run("grow", path, "-o", "json");
  expect(grown.code).toBe(0);
  expect(JSON.parse(grown.out)).toEqual({ disk: path, partition: 7, addedBytes: GiB });
  const last = sfdiskJson(path).partitions![6]!;
  expect((last.start + last.size) * 512).toBe(3 * GiB - MiB);
  expect(tool(["sgdisk", "-v", path]).all).toContain("No problems found");
}, 60_000);

test.skipIf(!TOOLS)("meta shows blank META after apply, then values, and a corrupt copy 1 (exit 1)", () => {
  const path = image(2 * GiB);
  expect(run("apply", "--disk", path, "--no-format").code).toBe(0);
  expect(run("meta", path).out).toContain(`${path}: META is blank (never written)`);
  const dev = openDisk(path, { write: true });
  const loc = metaLocation(dev, readGpt(dev).table!);
  updateMeta(loc, (v) => { setText(v, Tag.Upgrade, "B"); v.set(Tag.UniqueMachineToken, new Uint8Array([1, 2, 0xff])); });
  dev.close();
  const ok = run("meta", path);
  expect(ok.code).toBe(0);
  expect(ok.out).toMatch(/META read from copy 1\nTAG\s+NAME\s+SIZE\s+VALUE\n6\s+Upgrade\s+1\s+B\n16\s+UniqueMachineToken\s+3\s+hex:0102ff\n$/);
  const fd = openSync(path, "r+");
  try { writeSync(fd, Buffer.from([0xee]), 0, 1, loc.offset + 9); } finally { closeSync(fd); }
  const j = JSON.parse(run("meta", path, "-o", "json").out);
  expect(j.copy).toBe(2);
  expect(j.problems).toEqual([`copy 1 at byte ${loc.offset}: SHA-256 mismatch; copy 2 used`]);
  expect(j.values[0]).toEqual({ tag: 6, name: "Upgrade", size: 1, text: "B" });
  expect(run("meta", path).code).toBe(1);
}, 60_000);

test.skipIf(!TOOLS)("--sector-size 4096 lays out and reads an image file made for a 4K-sector disk", () => {
  const path = image(2 * GiB);
  expect(run("plan", "--disk", path, "--sector-size", "4096", "-o", "json").out).toContain('"sectorSize": 4096');
  expect(run("apply", "--disk", path, "--sector-size", "4096", "--no-format").code).toBe(0);
  const four = JSON.parse(run("show", path, "--sector-size", "4096", "-o", "json").out);
  expect(four.problems).toEqual([]);
  expect(four.table.partitions[0]).toMatchObject({ name: "EFI", firstLba: 256 });
  // Read as 512-byte sectors the same bytes are not a GPT (LBA 1 is at byte 512, not 4096).
  expect(run("show", path, "-o", "json").out).toContain('"present": false');
  expect(run("plan", "--disk", path, "--sector-size", "1024").code).toBe(2);
});
