/**
 * openat2(2): open a path relative to a directory descriptor with limits on how the kernel
 * resolves it, in one step (no check-then-open race). RESOLVE_BENEATH keeps every component,
 * symlinks and ".." included, inside the directory; RESOLVE_NO_MAGICLINKS refuses /proc's
 * magic links (/proc/PID/fd/N, root, cwd), which point at open files rather than paths.
 * glibc has no wrapper: it goes through syscall(2); the number is 437 on every architecture.
 */
import { constants } from "node:fs";
import { ptr } from "bun:ffi";
import { cstr, errno, libc, SysError } from "./libc.ts";

const SYS_OPENAT2 = 437;

/** The directory the calling process runs in, for dirfd. */
export const AT_FDCWD = -100;

/** Open flags, with this platform's values (O_DIRECTORY and O_NOFOLLOW differ between x86_64 and arm64). */
export const O = {
  RDONLY: constants.O_RDONLY,
  NONBLOCK: constants.O_NONBLOCK,
  DIRECTORY: constants.O_DIRECTORY,
  NOFOLLOW: constants.O_NOFOLLOW,
  NOCTTY: constants.O_NOCTTY,
  CLOEXEC: 0o2000000,
  PATH: 0o10000000,
} as const;

export const RESOLVE = { NO_XDEV: 0x01, NO_MAGICLINKS: 0x02, NO_SYMLINKS: 0x04, BENEATH: 0x08, IN_ROOT: 0x10 } as const;

/** errnos openat2 callers tell apart (the same numbers on x86_64 and arm64). */
export const OPENAT2_ERRNO = { ENOENT: 2, EINTR: 4, EAGAIN: 11, EACCES: 13, EXDEV: 18, ENOTDIR: 20, ENOSYS: 38, ELOOP: 40 } as const;

/**
 * Opens `path` relative to `dirfd` (AT_FDCWD: the working directory); returns the descriptor,
 * close-on-exec. Throws SysError carrying errno: EXDEV when resolution would leave `dirfd`
 * under RESOLVE_BENEATH, ELOOP for a refused (magic) link, ENOSYS before Linux 5.6. EAGAIN (a
 * rename or mount raced a ".." under RESOLVE_BENEATH) and EINTR are retried a few times.
 */
export function openat2(dirfd: number, path: string, flags: number, resolve: number): number {
  // struct open_how { u64 flags; u64 mode; u64 resolve; }, in native byte order.
  const how = new BigUint64Array([BigInt(flags | O.CLOEXEC), 0n, BigInt(resolve)]);
  const p = cstr(path);
  for (let attempt = 0; ; attempt++) {
    const fd = Number(libc().syscall(SYS_OPENAT2, dirfd, ptr(p), ptr(how), how.byteLength));
    if (fd >= 0) return fd;
    const e = errno();
    if ((e === OPENAT2_ERRNO.EAGAIN || e === OPENAT2_ERRNO.EINTR) && attempt < 16) continue;
    throw new SysError("openat2", e, JSON.stringify(path));
  }
}
