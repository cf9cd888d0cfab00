/**
 * The libc functions Bunker calls through bun:ffi. This is the only file (with its siblings in
 * core/sys) that talks to libc. The library is opened lazily, on first use, so importing a module
 * that needs libc costs nothing for a personality that never calls it (and so bunkerctl runs on
 * machines where these calls would be meaningless).
 *
 * Calls return the raw libc result; use `check()` to turn -1 into a SysError carrying errno.
 * Strings go in as NUL-terminated buffers (`cstr()`).
 */
import { dlopen, FFIType, ptr, read, type ConvertFns, type FFIFunction, type Pointer } from "bun:ffi";

const { i32, u32, i64, u64, ptr: P, cstring } = FFIType;

const symbols = {
  __errno_location: { args: [], returns: P },
  strerror: { args: [i32], returns: cstring },
  getpid: { args: [], returns: i32 },
  getuid: { args: [], returns: u32 },
  kill: { args: [i32, i32], returns: i32 },
  sync: { args: [], returns: "void" },
  reboot: { args: [i32], returns: i32 },
  mount: { args: [P, P, P, u64, P], returns: i32 },
  umount2: { args: [P, i32], returns: i32 },
  chroot: { args: [P], returns: i32 },
  chdir: { args: [P], returns: i32 },
  open: { args: [P, i32, u32], returns: i32 },
  close: { args: [i32], returns: i32 },
  read: { args: [i32, P, u64], returns: i64 },
  write: { args: [i32, P, u64], returns: i64 },
  ioctl: { args: [i32, u64, P], returns: i32 },
  sethostname: { args: [P, u64], returns: i32 },
  setdomainname: { args: [P, u64], returns: i32 },
  waitid: { args: [i32, u32, P, i32], returns: i32 },
  waitpid: { args: [i32, P, i32], returns: i32 },
  prctl: { args: [i32, u64, u64, u64, u64], returns: i32 },
  prlimit: { args: [i32, i32, P, P], returns: i32 },
  setsid: { args: [], returns: i32 },
  socket: { args: [i32, i32, i32], returns: i32 },
  bind: { args: [i32, P, u32], returns: i32 },
  connect: { args: [i32, P, u32], returns: i32 },
  sendto: { args: [i32, P, u64, i32, P, u32], returns: i64 },
  recvfrom: { args: [i32, P, u64, i32, P, P], returns: i64 },
  setsockopt: { args: [i32, i32, i32, P, u32], returns: i32 },
  getsockopt: { args: [i32, i32, i32, P, P], returns: i32 },
  getsockname: { args: [i32, P, P], returns: i32 },
  // syscall(2) for calls glibc has no wrapper for (openat2); declared with the arguments we pass.
  syscall: { args: [i64, i32, P, P, u64], returns: i64 },
} as const;

/**
 * A getter for some libc symbols that opens libc.so.6 on its first call, not at import: core/sys's
 * modules each declare the few symbols they use and take their getter from here.
 */
export function lazyLibc<S extends Record<string, FFIFunction>>(syms: S): () => ConvertFns<S> {
  let lib: ConvertFns<S> | undefined;
  return () => (lib ??= dlopen("libc.so.6", syms).symbols);
}

/** The libc symbols; opens libc.so.6 on first call. */
export const libc = lazyLibc(symbols);

/** The calling thread's errno. */
export function errno(): number {
  const loc = libc().__errno_location();
  return loc === null ? 0 : read.i32(loc as Pointer, 0);
}

/** An error from a system call, with its name, errno and the libc message. */
export class SysError extends Error {
  constructor(
    readonly call: string,
    readonly errno: number,
    detail?: string,
  ) {
    super(`${call}${detail ? ` ${detail}` : ""}: ${libc().strerror(errno)} (errno ${errno})`);
    this.name = "SysError";
  }
}

/** Throws a SysError when a libc call returned a negative value; returns the value otherwise. */
export function check<T extends number | bigint>(call: string, result: T, detail?: string): T {
  if (result < 0) throw new SysError(call, errno(), detail);
  return result;
}

/** A NUL-terminated copy of a string, for passing as `const char *`. */
export function cstr(s: string): Buffer {
  return Buffer.from(s + "\0", "utf8");
}

/** A pointer to a buffer's bytes, or null for an absent one. */
export function bufPtr(b: Buffer | Uint8Array | null | undefined): Pointer | null {
  return b && b.byteLength > 0 ? ptr(b) : null;
}

export const errnos = {
  EPERM: 1, ENOENT: 2, ESRCH: 3, EINTR: 4, EIO: 5, EBADF: 9, ECHILD: 10, EAGAIN: 11, ENOMEM: 12,
  EACCES: 13, EBUSY: 16, EEXIST: 17, ENODEV: 19, ENOTDIR: 20, EINVAL: 22, ENOSPC: 28, EROFS: 30,
  EADDRINUSE: 98, ENETUNREACH: 101, ETIMEDOUT: 110,
} as const;
