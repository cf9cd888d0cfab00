/**
 * Mounting and unmounting filesystems, and the label of a mounted one, through libc: what the
 * node needs to use its disk's volumes (STATE, the boot slots, EPHEMERAL) without any mount or
 * e2label binary in the image.
 */
import { readFileSync } from "node:fs";
import { bufPtr, check, cstr, libc } from "./libc.ts";

/** mount(2) flags (linux/mount.h). */
export const MS = { RDONLY: 1, NOSUID: 2, NODEV: 4, NOEXEC: 8, REMOUNT: 32, BIND: 4096, MOVE: 8192 } as const;
const MNT_DETACH = 2;
const O_RDONLY = 0;
const O_DIRECTORY = 0o200000;
const O_CLOEXEC = 0o2000000;
/** _IOW(0x94, 50, char[256]): sets the label of the filesystem a file belongs to (ext4 since Linux 5.17, xfs, btrfs). */
const FS_IOC_SETFSLABEL = 0x41009432;
const FSLABEL_MAX = 256;

/**
 * mount(2) `source` on `target` as `fstype`; a bind, move or remount passes null for what it
 * does not use. Throws a SysError naming the mount (`bind A on B`, `tmpfs (tmpfs) on /run`).
 */
export function mountFs(source: string | null, target: string, fstype: string | null, flags = 0, data: string | null = ""): void {
  const what = flags & MS.MOVE ? `move ${source} onto ${target}`
    : flags & MS.REMOUNT ? `remount ${target}`
    : flags & MS.BIND ? `bind ${source} on ${target}`
    : `${source} (${fstype}) on ${target}`;
  const str = (x: string | null) => (x === null ? null : cstr(x));
  check("mount", libc().mount(str(source), cstr(target), str(fstype), BigInt(flags), str(data)), what);
}

/** umount2(2); `detach` (MNT_DETACH) unmounts lazily when files are still open. */
export function unmountFs(target: string, detach = false): void {
  check("umount2", libc().umount2(cstr(target), detach ? MNT_DETACH : 0), target);
}

/** Whether `target` is a mount point, from /proc/self/mounts. */
export function isMountPoint(target: string): boolean {
  let text = "";
  try { text = readFileSync("/proc/self/mounts", "utf8"); } catch { /* no /proc: nothing is known to be mounted */ }
  return text.split("\n").some((l) => (l.split(" ")[1] ?? "").replaceAll("\\040", " ") === target);
}

/**
 * Sets the label of the filesystem mounted at `mountDir` (FS_IOC_SETFSLABEL): the kernel
 * updates the superblock and its backups through the journal, as e2label would on an unmounted one.
 */
export function setFsLabel(mountDir: string, label: string): void {
  const bytes = Buffer.from(label, "utf8");
  if (bytes.byteLength >= FSLABEL_MAX) throw new Error(`setFsLabel ${mountDir}: label '${label}' is too long`);
  const buf = Buffer.alloc(FSLABEL_MAX);
  bytes.copy(buf);
  const c = libc();
  const fd = check("open", c.open(cstr(mountDir), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0), mountDir);
  try {
    check("ioctl FS_IOC_SETFSLABEL", c.ioctl(fd, FS_IOC_SETFSLABEL, bufPtr(buf)), `${mountDir} <- '${label}'`);
  } finally {
    c.close(fd);
  }
}
