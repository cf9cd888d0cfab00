/**
 * Install, upgrade, confirm, fall back, roll back and reset on a 2 GiB image file, checked with
 * tools nobody here wrote: sgdisk, e2fsck, fsck.fat, debugfs (files in the slots and STATE),
 * mtools (grubenv), grub-editenv (grubenv's format). The boots themselves: test/qemu/install.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openDisk, type DiskDevice } from "../gpt/device.ts";
import { Label } from "../disklayout/plan.ts";
import { extent, findVolume, metaLocation } from "../disklayout/volumes.ts";
import { Tag } from "../meta/block.ts";
import { getText, readMeta } from "../meta/store.ts";
import { describeFile, signManifest } from "../image/manifest.ts";
import { testKey } from "../../test/image/fixture.ts";
import { installFixture, type InstallFixture } from "../../test/lib/install-fixture.ts";
import { verifyImage } from "./image.ts";
import { install } from "./install.ts";
import { reset } from "./reset.ts";
import { bootState, markBootGood, rollback, tableOf, upgrade } from "./slots.ts";
import { readExt4File } from "./state.ts";
import { rewriteFatFile } from "./fat.ts";

let fx: InstallFixture | undefined;
let work = "", imageDir = "";

beforeAll(async () => {
  fx = await installFixture("install-test-");
  ({ work, image: imageDir } = fx);
}, 600_000);
afterAll(() => fx?.cleanup());

const blankDisk = (name: string): DiskDevice => openDisk(fx!.blankDisk(name), { write: true });

const sh = (cmd: string[]) => {
  const r = Bun.spawnSync(cmd, { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C", MTOOLS_SKIP_CHECK: "1" } });
  return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
};

/** grubenv as mtools reads it off the EFI partition, parsed by grub-editenv. */
function grubenvByTools(dev: DiskDevice): string {
  const efi = extent(tableOf(dev), findVolume(tableOf(dev), Label.EFI)).offset;
  const out = join(work, "grubenv.copy");
  rmSync(out, { force: true });
  expect(sh(["mcopy", "-i", `${dev.path}@@${efi}`, "::/grub/grubenv", out]).code).toBe(0);
  expect(readFileSync(out).length).toBe(1024);
  return sh(["grub-editenv", out, "list"]).out;
}

/** Signs `dir`'s artifacts again after a change, with the test key (a well-signed but different image). */
function resign(dir: string): void {
  const m = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as { artifacts: { name: string }[] };
  const { json, sig } = signManifest("image", { version: "test2" }, m.artifacts.map((a) => describeFile(a.name, join(dir, a.name))), testKey());
  writeFileSync(join(dir, "manifest.json"), json);
  writeFileSync(join(dir, "manifest.sig"), sig);
}

describe("install on an image file", () => {
  test("layout, slot A, GRUB for BIOS and UEFI, config in STATE; checked by sgdisk, fsck and debugfs", () => {
    const dev = blankDisk("a.img");
    const r = install(dev, verifyImage(imageDir), { wipe: false, config: "version: v1alpha1\nmachine: {}\n" });
    expect(r.slot).toBe("A");
    expect(sh(["sgdisk", "-v", dev.path]).out).toContain("No problems found");
    const t = tableOf(dev);
    for (const l of [Label.BOOT_A, Label.STATE, Label.EPHEMERAL]) {
      const { offset } = extent(t, findVolume(t, l));
      const fsck = sh(["e2fsck", "-fn", `${dev.path}?offset=${offset}`]);
      expect(fsck.out).not.toMatch(/ERROR|corrupt|UNEXPECTED/i);
      expect(fsck.code).toBe(0);
    }
    // Slot A holds the image's kernel, byte for byte.
    const a = extent(t, findVolume(t, Label.BOOT_A)).offset;
    const kernel = Bun.spawnSync(["debugfs", "-R", "cat /vmlinuz", `${dev.path}?offset=${a}`]).stdout;
    expect(Buffer.from(kernel).equals(readFileSync(join(imageDir, "vmlinuz")))).toBe(true);
    expect(sh(["blkid", "-p", "-O", String(a), dev.path]).out).toContain('LABEL="BOOT-A"');
    // BIOS: boot.img in the MBR with the protective partition kept; core.img in the BIOS partition.
    const mbr = dev.read(0, 512);
    expect(Buffer.from(mbr.subarray(0, 440)).includes(Buffer.from("GRUB"))).toBe(true);
    expect(mbr[450]).toBe(0xee);
    const bios = extent(t, findVolume(t, Label.BIOS)).offset;
    expect(new DataView(mbr.buffer, mbr.byteOffset).getBigUint64(0x5c, true)).toBe(BigInt(bios / 512));
    // UEFI: the removable-media path.
    const efi = extent(t, findVolume(t, Label.EFI)).offset;
    expect(sh(["mdir", "-b", "-i", `${dev.path}@@${efi}`, "::/EFI/BOOT"]).out).toContain("BOOTX64.EFI");
    expect(grubenvByTools(dev)).toContain("slot=A");
    expect(readExt4File(dev, t, Label.STATE, "/config.yaml")).toBe("version: v1alpha1\nmachine: {}\n");
    dev.close();
  }, 120_000);

  test("a disk that holds data is refused without wipe and left as it was", () => {
    const dev = blankDisk("b.img");
    dev.write(4096, new Uint8Array([1, 2, 3]));
    expect(() => install(dev, verifyImage(imageDir), { wipe: false })).toThrow(/not blank/);
    expect([...dev.read(4096, 3)]).toEqual([1, 2, 3]);
    expect(readGptNames(dev)).toEqual([]);
    dev.close();
  });

  test("an image whose files do not match the signed manifest is refused before anything is written", () => {
    const bad = join(work, "tampered");
    cpSync(imageDir, bad, { recursive: true });
    const k = readFileSync(join(bad, "vmlinuz"));
    k[k.length - 1] = k[k.length - 1]! ^ 1;
    writeFileSync(join(bad, "vmlinuz"), k);
    expect(() => verifyImage(bad)).toThrow(/vmlinuz: sha256 .* manifest says/);
  });
});

function readGptNames(dev: DiskDevice): string[] {
  try { return tableOf(dev).partitions.map((p) => p.name); } catch { return []; }
}

describe("A/B slots", () => {
  test("upgrade arms a one-shot trial; confirm makes it the slot; a failed trial falls back; rollback flips", () => {
    const dev = blankDisk("ab.img");
    install(dev, verifyImage(imageDir), { wipe: false });
    const next = join(work, "image2");
    cpSync(imageDir, next, { recursive: true });
    writeFileSync(join(next, "boot.ipxe"), readFileSync(join(next, "boot.ipxe"), "utf8") + "# v2\n");
    resign(next);

    // Upgrade: B written, META says fall back to A, grubenv tries B once.
    expect(upgrade(dev, verifyImage(next))).toBe("B");
    expect(bootState(dev)).toMatchObject({ slot: "A", trySlot: "B", fallback: "A" });
    expect(grubenvByTools(dev)).toContain("try_slot=B");
    const t = tableOf(dev);
    const b = extent(t, findVolume(t, Label.BOOT_B)).offset;
    expect(Bun.spawnSync(["debugfs", "-R", "cat /manifest.json", `${dev.path}?offset=${b}`]).stdout.toString()).toContain('"version": "test2"');

    expect(markBootGood(dev, "B")).toEqual({ kind: "confirmed", slot: "B", previous: "A" });
    expect(bootState(dev)).toMatchObject({ slot: "B", trySlot: null, fallback: null });
    const meta = readMeta(metaLocation(dev, t));
    expect(meta.ok && getText(meta.values, Tag.Upgrade)).toBeUndefined();

    // Another upgrade (into A) whose trial never confirms: the machine came back on B.
    expect(upgrade(dev, verifyImage(imageDir))).toBe("A");
    expect(markBootGood(dev, "B")).toEqual({ kind: "fell-back", slot: "B", failed: "A" });
    expect(bootState(dev)).toMatchObject({ slot: "B", trySlot: null, fallback: null });

    // Manual rollback to A (which holds a system), and back.
    expect(rollback(dev)).toBe("A");
    expect(grubenvByTools(dev)).toContain("slot=A");
    expect(rollback(dev)).toBe("B");
    dev.close();
  }, 120_000);

  test("rollback refuses a slot that holds no system", () => {
    const dev = blankDisk("rb.img");
    install(dev, verifyImage(imageDir), { wipe: false });
    expect(() => rollback(dev)).toThrow(/slot B holds no Bunker system/);
    expect(bootState(dev).slot).toBe("A");
    dev.close();
  }, 60_000);
});

describe("reset", () => {
  test("STATE and EPHEMERAL come back empty; slots, bootloader and META stay", () => {
    const dev = blankDisk("reset.img");
    install(dev, verifyImage(imageDir), { wipe: false, config: "version: v1alpha1\n" });
    const t = tableOf(dev);
    const a = extent(t, findVolume(t, Label.BOOT_A));
    const slotBefore = Buffer.from(dev.read(a.offset, 4 << 20));
    const mbrBefore = Buffer.from(dev.read(0, 512));
    expect(readExt4File(dev, t, Label.STATE, "/config.yaml")).toBe("version: v1alpha1\n");
    expect(reset(dev)).toEqual([Label.STATE, Label.EPHEMERAL]);
    expect(readExt4File(dev, t, Label.STATE, "/config.yaml")).toBeNull();
    for (const l of [Label.STATE, Label.EPHEMERAL]) {
      const { offset } = extent(t, findVolume(t, l));
      expect(sh(["e2fsck", "-fn", `${dev.path}?offset=${offset}`]).code).toBe(0);
    }
    expect(Buffer.from(dev.read(a.offset, 4 << 20)).equals(slotBefore)).toBe(true);
    expect(Buffer.from(dev.read(0, 512)).equals(mbrBefore)).toBe(true);
    expect(bootState(dev).slot).toBe("A");
    expect(() => reset(dev, ["BOOT-A" as never])).toThrow(/cannot be reset/);
    dev.close();
  }, 120_000);
});

describe("grubenv damaged by a cut write", () => {
  test("boot-status says GRUB boots A; rollback rewrites the whole block", () => {
    const dev = blankDisk("env.img");
    install(dev, verifyImage(imageDir), { wipe: false });
    const t = tableOf(dev);
    const efi = extent(t, findVolume(t, Label.EFI)).offset;
    rewriteFatFile(dev, efi, "grub/grubenv", new Uint8Array(1024).fill(0x41));
    const s = bootState(dev);
    expect(s.slot).toBe("A");
    expect(s.problems.join()).toMatch(/no '# GRUB Environment Block' header.*boots A/);
    expect(upgrade(dev, verifyImage(imageDir))).toBe("B");
    expect(markBootGood(dev, "B").kind).toBe("confirmed");
    expect(grubenvByTools(dev)).toContain("slot=B");
    dev.close();
  }, 60_000);
});
