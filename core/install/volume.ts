/**
 * A volume of an installed disk as a mounted filesystem, for the running node (STATE on
 * /system/state, a boot slot while an upgrade writes it, EPHEMERAL while a reset empties it).
 * On a block device the partition's own node (/dev/vda6), found by its GPT name in sysfs; on
 * a disk image file (container mode, tests) a loop device over the partition's byte range.
 */
import { existsSync, fsyncSync, mkdirSync, openSync, closeSync, readdirSync, readFileSync, realpathSync, rmSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { openDisk, type DiskDevice } from "../gpt/device.ts";
import type { GptTable } from "../gpt/table.ts";
import type { VolumeLabel } from "../disklayout/plan.ts";
import { extent, findVolume } from "../disklayout/volumes.ts";
import { attachLoop } from "../sys/loop.ts";
import { flushBufferCache } from "../sys/blkdev.ts";
import { mountFs, unmountFs } from "../sys/mount.ts";
import { ext4Label, tableOf } from "./slots.ts";

/** The /dev node of the partition of block device `disk` whose GPT name is `label` (from sysfs uevent PARTNAME), or null. */
export function partitionNode(disk: string, label: string, sysfs = "/sys"): string | null {
  const name = basename(realpathSync(disk));
  const dir = join(sysfs, "block", name);
  for (const entry of existsSync(dir) ? readdirSync(dir) : []) {
    if (!existsSync(join(dir, entry, "partition"))) continue;
    const uevent = readFileSync(join(dir, entry, "uevent"), "utf8");
    const field = (k: string) => uevent.match(new RegExp(`^${k}=(.*)$`, "m"))?.[1];
    if (field("PARTNAME") === label) return `/dev/${field("DEVNAME") ?? entry}`;
  }
  return null;
}

/** "ext4" (any of the ext2/3/4 family), "xfs", or null when the volume holds neither. */
export function volumeFilesystem(dev: DiskDevice, table: GptTable, label: VolumeLabel): "ext4" | "xfs" | null {
  const { offset } = extent(table, findVolume(table, label));
  if (ext4Label(dev, offset) !== null) return "ext4";
  return String.fromCharCode(...dev.read(offset, 4)) === "XFSB" ? "xfs" : null;
}

export interface MountedVolume {
  dir: string;
  /** The block device mounted (a partition or a loop device). */
  device: string;
  fstype: string;
  /** Unmounts; on a block device also drops the whole disk's cache of what changed. */
  unmount(): void;
}

/** Mounts volume `label` of `diskPath` on `dir` (made if missing). Throws naming the disk, volume and why. */
export function mountVolume(diskPath: string, label: VolumeLabel, dir: string, o: { flags?: number; data?: string } = {}): MountedVolume {
  const dev = openDisk(diskPath);
  let table: GptTable, fstype: "ext4" | "xfs" | null;
  try {
    table = tableOf(dev);
    fstype = volumeFilesystem(dev, table, label);
  } finally {
    dev.close();
  }
  if (fstype === null) throw new Error(`${diskPath}: volume ${label} holds no ext4 or xfs filesystem`);
  mkdirSync(dir, { recursive: true });
  const block = statSync(diskPath).isBlockDevice();
  if (block) {
    const node = partitionNode(diskPath, label);
    if (!node) throw new Error(`${diskPath}: no partition device named ${label} in sysfs (has the kernel read the partition table?)`);
    mountFs(node, dir, fstype, o.flags ?? 0, o.data ?? "");
    return { dir, device: node, fstype, unmount: () => { unmountFs(dir); flushBufferCache(diskPath); } };
  }
  const { offset, size } = extent(table, findVolume(table, label));
  const loop = attachLoop(diskPath, { readOnly: false, autoclear: true, offset: BigInt(offset), sizeLimit: BigInt(size) });
  try {
    mountFs(loop.device, dir, fstype, o.flags ?? 0, o.data ?? "");
  } finally {
    // With autoclear the mount is now the loop device's only user: it detaches on unmount.
    loop.release();
  }
  return { dir, device: loop.device, fstype, unmount: () => unmountFs(dir) };
}

/** Mounts, runs `f`, unmounts (also when `f` throws). */
export function withVolume<T>(diskPath: string, label: VolumeLabel, dir: string, f: (v: MountedVolume) => T, o: { flags?: number } = {}): T {
  const v = mountVolume(diskPath, label, dir, o);
  try {
    return f(v);
  } finally {
    v.unmount();
  }
}

/** Removes everything inside `dir` but lost+found (fsck's), then fsyncs it: an emptied filesystem. */
export function emptyDirectory(dir: string): string[] {
  const removed: string[] = [];
  for (const e of readdirSync(dir)) {
    if (e === "lost+found") continue;
    rmSync(join(dir, e), { recursive: true, force: true });
    removed.push(e);
  }
  fsyncPath(dir);
  return removed;
}

export function fsyncPath(path: string): void {
  const fd = openSync(path, "r");
  try { fsyncSync(fd); } finally { closeSync(fd); }
}
