/**
 * Installing Bunker on a disk: the layout (core/disklayout), GRUB for BIOS and UEFI, the image's
 * kernel and initramfs in slot A, and (optionally) the machine config in STATE.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DiskDevice } from "../gpt/device.ts";
import { applyLayout } from "../disklayout/apply.ts";
import { Label, plan, type LayoutConfig } from "../disklayout/plan.ts";
import { extent, findVolume } from "../disklayout/volumes.ts";
import { buildBootloader, writeBiosBoot, writeEfiFiles, type BootloaderFiles } from "./bootloader.ts";
import type { VerifiedImage } from "./image.ts";
import { emptySlot, writeSlot } from "./slots.ts";
import { writeStateConfig } from "./state.ts";

export interface InstallOptions {
  /** Allowed to destroy what is on the disk (required when it is not blank). */
  wipe: boolean;
  layout?: LayoutConfig;
  /** The machine config to store in STATE (YAML text). */
  config?: string;
  /** Prebuilt GRUB images; built with grub-mkimage when absent. */
  bootloader?: BootloaderFiles;
  progress?: (step: string) => void;
  /** Where the slot and STATE are staged (default the system's temp folder). */
  scratch?: string;
}

export interface InstallResult { slot: "A"; wiped: string[]; partitions: number }

export function install(dev: DiskDevice, image: VerifiedImage, o: InstallOptions): InstallResult {
  const say = o.progress ?? (() => {});
  const work = mkdtempSync(join(o.scratch ?? tmpdir(), "bunker-install-"));
  try {
    say("building GRUB for BIOS and UEFI (grub-mkimage)");
    const boot = o.bootloader ?? buildBootloader(work);
    const layout = plan(dev.size, { ...o.layout, sectorSize: dev.sectorSize as 512 | 4096 });
    const applied = applyLayout(dev, layout, { wipe: o.wipe, progress: say });
    const table = layout.table;
    say("writing slot A: kernel, initramfs, signed manifest");
    writeSlot(dev, table, "A", image, work);
    // Slot B gets an empty ext4 labelled EMPTY-B: GRUB and rollback look for BOOT-B, so they tell
    // it from a system, and a running node can mount it to write an upgrade into it.
    emptySlot(dev, table, "B");
    const bios = extent(table, findVolume(table, Label.BIOS));
    say("writing the BIOS bootloader (boot.img, core.img)");
    writeBiosBoot(dev, boot, bios.offset, bios.size);
    say("writing the UEFI bootloader, grub.cfg and grubenv to the EFI partition");
    writeEfiFiles(dev, extent(table, findVolume(table, Label.EFI)).offset, boot, work, "A");
    if (o.config !== undefined) {
      say("storing the machine config in STATE");
      writeStateConfig(dev, table, o.config, work);
    }
    return { slot: "A", wiped: applied.wiped, partitions: layout.volumes.length };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
