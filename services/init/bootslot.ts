/**
 * After a boot from an installed disk reached "boot done", init confirms the slot it runs from:
 * a trial boot of a new slot becomes the slot (core/install markBootGood), and a boot that came
 * back on the fallback slot is reported as a failed upgrade. The kernel command line written by
 * the installer's grub.cfg says which slot: `bunker.slot=A|B bunker.trial=0|1`. A node booted
 * from an ISO, iPXE or -kernel has no bunker.slot and this does nothing.
 */
import { openDisk, type DiskDevice } from "../../core/gpt/device.ts";
import { readGpt } from "../../core/gpt/disk.ts";
import { Label } from "../../core/disklayout/plan.ts";
import { discoverDisks } from "../../core/disks/disk.ts";
import { isSlot, type Slot } from "../../core/install/grub.ts";
import { markBootGood, type BootOutcome } from "../../core/install/slots.ts";

/** The slot on the kernel command line, or null when the boot was not from an installed disk. */
export function bootedSlot(cmdline: string): Slot | null {
  const m = cmdline.match(/(?:^|\s)bunker\.slot=(\S+)/);
  return m && isSlot(m[1]) ? m[1] : null;
}

/** The first disk whose GPT has Bunker's META and both boot slots. */
export function findInstallDisk(sysfs = "/sys"): string | null {
  for (const d of discoverDisks(sysfs)) {
    let dev: DiskDevice | undefined;
    try {
      dev = openDisk(d.devPath);
      const names = readGpt(dev).table?.partitions.map((p) => p.name) ?? [];
      if ([Label.META, Label.BOOT_A, Label.BOOT_B, Label.EFI].every((n) => names.includes(n))) return d.devPath;
    } catch {
      // An unreadable disk is not the one we booted from.
    } finally {
      dev?.close();
    }
  }
  return null;
}

/** Confirms the boot on `diskPath` (or the disk found); returns the outcome in words for the log. */
export function confirmBoot(cmdline: string, diskPath?: string | null): { outcome: BootOutcome | null; message: string } {
  const slot = bootedSlot(cmdline);
  if (slot === null) return { outcome: null, message: "not booted from an installed disk (no bunker.slot on the command line)" };
  const path = diskPath ?? findInstallDisk();
  if (!path) return { outcome: null, message: `booted from slot ${slot} but no disk with Bunker's layout was found` };
  return confirmSlot(path, slot);
}

/** Confirms that slot `slot` of `path` booted healthy (markBootGood); the outcome in words. */
export function confirmSlot(path: string, slot: Slot): { outcome: BootOutcome; message: string } {
  const dev = openDisk(path, { write: true });
  try {
    const outcome = markBootGood(dev, slot);
    const message = outcome.kind === "confirmed" ? `${path}: upgrade confirmed, slot ${outcome.slot} boots from now on (slot ${outcome.previous} kept for rollback)`
      : outcome.kind === "fell-back" ? `${path}: the upgrade to slot ${outcome.failed} did not boot; running on slot ${outcome.slot} again`
      : `${path}: running on slot ${outcome.slot}`;
    return { outcome, message };
  } finally {
    dev.close();
  }
}
