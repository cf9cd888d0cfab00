/**
 * Block device ioctls: asking the kernel to re-read a disk's partition table after Bunker wrote
 * one, so that /dev/<disk><N> appear for the new partitions.
 */
import { constants, openSync, closeSync } from "node:fs";
import { check, libc } from "./libc.ts";

/** _IO(0x12, 95) from <linux/fs.h>. */
const BLKRRPART = 0x125f;

/**
 * Re-reads the partition table of the whole-disk device at `path`. Throws a SysError: EBUSY when
 * a partition is in use (mounted), EINVAL when the device does not scan partitions (a loop
 * device attached without -P).
 */
export function rereadPartitions(path: string): void {
  const fd = openSync(path, constants.O_RDONLY);
  try {
    check("ioctl(BLKRRPART)", libc().ioctl(fd, BLKRRPART, null), path);
  } finally {
    closeSync(fd);
  }
}
