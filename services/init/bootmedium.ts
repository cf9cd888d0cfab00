/**
 * The medium a node booted from, when it carries its own boot files: the ISO (a CD drive like
 * /dev/sr0, or the ISO written to a USB stick or attached as a disk). Its /boot folder holds
 * the kernel and initramfs GRUB loaded and their signed manifest (rootfs/build/bootmanifest.ts),
 * so `machine.install.image` empty installs the running image from there (core/install/job.ts
 * copyBootFiles, read as ISO 9660 without a mount), checked exactly as an image from a URL. A `-kernel` or iPXE boot leaves no such medium: the bootloader loaded the
 * files into memory and the initramfs was unpacked, so there is nothing signed to copy; there the
 * image URL is needed.
 */
import { closeSync, existsSync, openSync, readdirSync, readSync } from "node:fs";
import { join } from "node:path";

/** The volume id rootfs/build gives the ISO (xorriso -volid). */
export const ISO_VOLUME_ID = "BUNKER";
/** ISO 9660: the primary volume descriptor is the first one, at sector 16 (2048-byte sectors). */
const PVD_OFFSET = 16 * 2048;

/** Whether `path` (a block device or file) holds an ISO 9660 filesystem whose volume id is Bunker's. */
export function isBunkerIso(path: string): boolean {
  let fd: number;
  try { fd = openSync(path, "r"); } catch { return false; }
  try {
    const pvd = Buffer.alloc(72);
    if (readSync(fd, pvd, 0, pvd.length, PVD_OFFSET) < pvd.length) return false;
    // Type 1 (primary), "CD001", version 1; the volume id is 32 space-padded bytes at 40.
    return pvd[0] === 1 && pvd.toString("latin1", 1, 6) === "CD001" && pvd.toString("latin1", 40, 72).trimEnd() === ISO_VOLUME_ID;
  } catch {
    return false; // an empty CD drive, a device that refuses reads: not the medium
  } finally {
    closeSync(fd);
  }
}

/** The first block device in sysfs that holds Bunker's ISO, or null. Loop, RAM and device-mapper devices are not boot media. */
export function findBootMedium(sysfs = "/sys", dev = "/dev"): string | null {
  const dir = join(sysfs, "block");
  for (const name of existsSync(dir) ? readdirSync(dir).sort() : []) {
    if (/^(loop|ram|zram|dm-)/.test(name)) continue;
    const path = join(dev, name);
    if (existsSync(path) && isBunkerIso(path)) return path;
  }
  return null;
}
