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
  argumentlessIoctl(path, BLKRRPART, "BLKRRPART");
}

function argumentlessIoctl(path: string, request: number, name: string): void {
  const fd = openSync(path, constants.O_RDONLY);
  try {
    check(`ioctl(${name})`, libc().ioctl(fd, request, null), path);
  } finally {
    closeSync(fd);
  }
}

/** _IO(0x12, 97): write back and drop the device's buffer cache. */
const BLKFLSBUF = 0x1261;

/**
 * Drops the page cache of the block device at `path`. A partition's device and its whole disk
 * keep separate caches: after writing through /dev/vda4 (a mounted slot), reads through
 * /dev/vda could otherwise see the blocks as they were before.
 */
export function flushBufferCache(path: string): void {
  argumentlessIoctl(path, BLKFLSBUF, "BLKFLSBUF");
}
