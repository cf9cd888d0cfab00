/**
 * Installed disks booted in QEMU without any ISO: BIOS (SeaBIOS) and UEFI (OVMF) reach the
 * image's PID 1 from slot A; an upgrade boots the new slot once through UEFI (GRUB clears its
 * one-shot try_slot with UEFI's disk writes) and is kept when confirmed. Rollback and an
 * upgrade whose slot panics are tested with the real init in upgrade.test.ts.
 *
 * PID 1 is the stand-in of fixtures/stage-init.ts (it reaches the signed root, then powers off);
 * the confirmation the real init makes once healthy (markBootGood) is made here on the disk
 * image after the guest powered off, with the slot the guest booted.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openDisk } from "../../core/gpt/device.ts";
import { verifyImage } from "../../core/install/image.ts";
import { bootState, markBootGood, upgrade } from "../../core/install/slots.ts";
import { imageCopy } from "../lib/image-copies.ts";
import { installFixture, type InstallFixture } from "../lib/install-fixture.ts";
import { haveQemu, withQemu, type Qemu } from "./runner.ts";

const BOOT_MS = 150_000;
let fx: InstallFixture | undefined;
let work = "", imageDir = "", disk = "";

beforeAll(async () => {
  if (!haveQemu()) return;
  fx = await installFixture("install-boot-");
  ({ work, image: imageDir } = fx);
  disk = fx.installedDisk("disk.img");
}, 600_000);
afterAll(() => fx?.cleanup());

const onDisk = <T>(f: (dev: ReturnType<typeof openDisk>) => T): T => {
  const dev = openDisk(disk, { write: true });
  try { return f(dev); } finally { dev.close(); }
};

/**
 * Boots the disk alone (no ISO, no -kernel) until the stand-in PID 1 powers off, then runs
 * `check` on the console (inside withQemu, so a failed check shows the console's tail).
 */
async function bootDisk(o: { uefi?: boolean; allowReboot?: boolean }, check: (q: Qemu) => void): Promise<void> {
  await withQemu({ ...o, extraArgs: ["-drive", `file=${disk},format=raw,if=virtio`] }, async (q) => {
    await q.waitFor("STAGE-OK", BOOT_MS);
    expect(await q.waitExit(30_000)).toBe(0);
    check(q);
  });
}

/** The slots GRUB booted, in order, from its console lines. */
/**
 * The slots this one boot went through: GRUB's "booting slot X" and the kernel's command line
 * (printed twice) each name it, and any of those lines may lose characters to a busy emulated
 * UART under load, so every slot any of them names counts once.
 */
const bootedSlots = (q: Qemu) => [...new Set(q.lines.map((l) => l.text.match(/Bunker: booting slot ([AB])|command line: .*bunker\.slot=([AB])/i)).flatMap((m) => (m ? [m[1] ?? m[2]!] : [])))];

/** A copy of the image, re-signed after `change`: a valid image the manifest check accepts. */
const variant = (name: string, change: (dir: string) => void): string => imageCopy(imageDir, join(work, name), { change });

describe.skipIf(!haveQemu())("installed disk (QEMU TCG, no ISO)", () => {
  test("BIOS: GRUB from the MBR and the BIOS boot partition boots slot A to PID 1", async () => {
    await bootDisk({}, (q) => {
      expect(bootedSlots(q)).toEqual(["A"]);
      expect(q.output()).toMatch(/command line: .*bunker\.slot=A bunker\.trial=0/i);
    });
  }, BOOT_MS + 60_000);

  test("UEFI: EFI/BOOT/BOOTX64.EFI boots slot A to PID 1", async () => {
    await bootDisk({ uefi: true }, (q) => expect(bootedSlots(q)).toEqual(["A"]));
  }, BOOT_MS + 60_000);

  test("upgrade: the new slot boots once as a trial (GRUB clears the trial itself), is confirmed, then boots for good", async () => {
    const v2 = variant("v2", (d) => writeFileSync(join(d, "boot.ipxe"), readFileSync(join(d, "boot.ipxe"), "utf8") + "# v2\n"));
    expect(onDisk((dev) => upgrade(dev, verifyImage(v2)))).toBe("B");
    await bootDisk({ uefi: true }, (trial) => {
      expect(bootedSlots(trial)).toEqual(["B"]);
      expect(trial.output()).toMatch(/command line: .*bunker\.slot=B bunker\.trial=1/i);
    });
    // GRUB's save_env (through UEFI) emptied try_slot before booting B.
    expect(onDisk((dev) => bootState(dev))).toMatchObject({ slot: "A", trySlot: null, fallback: "A" });
    expect(onDisk((dev) => markBootGood(dev, "B"))).toEqual({ kind: "confirmed", slot: "B", previous: "A" });
    await bootDisk({}, (after) => {
      expect(bootedSlots(after)).toEqual(["B"]);
      expect(after.output()).toMatch(/bunker\.slot=B bunker\.trial=0/);
    });
  }, 2 * BOOT_MS + 120_000);
});
