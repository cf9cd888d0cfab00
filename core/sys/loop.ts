/**
 * Loop devices: attach a file as a block device in one LOOP_CONFIGURE ioctl (Linux 5.8+), which
 * sets the backing file, the read-only flag and autoclear atomically (the older LOOP_SET_FD +
 * LOOP_SET_STATUS64 pair leaves a window where the device is writable).
 */
import { bufPtr, check, cstr, errno, libc, SysError } from "./libc.ts";

const LOOP_CTL_GET_FREE = 0x4c82;
const LOOP_CONFIGURE = 0x4c0a;
const LOOP_CLR_FD = 0x4c01;
const LO_FLAGS_READ_ONLY = 1;
const LO_FLAGS_AUTOCLEAR = 4;
const O_RDONLY = 0;
const O_RDWR = 2;
const O_CLOEXEC = 0o2000000;

// struct loop_config { u32 fd; u32 block_size; struct loop_info64 info; u64 reserved[8]; }
const CONFIG_SIZE = 304;
const OFF_INFO = 8;
const OFF_LO_OFFSET = OFF_INFO + 24;
const OFF_LO_SIZELIMIT = OFF_INFO + 32;
const OFF_LO_FLAGS = OFF_INFO + 52;
const OFF_LO_FILE_NAME = OFF_INFO + 56;
const LO_NAME_SIZE = 64;

export interface LoopOptions {
  /** Attach read-only (the block device refuses writes). Default true. */
  readOnly?: boolean;
  /** Detach automatically when the last user (e.g. the mount) goes away. Default true. */
  autoclear?: boolean;
  /** Byte offset into the file and size limit (0: to the end). */
  offset?: bigint;
  sizeLimit?: bigint;
}

/** Encodes a struct loop_config (exported for tests). */
export function encodeLoopConfig(backingFd: number, file: string, opts: LoopOptions = {}): Buffer {
  const b = Buffer.alloc(CONFIG_SIZE);
  b.writeUInt32LE(backingFd, 0);
  b.writeUInt32LE(0, 4); // block size: the kernel's default
  b.writeBigUInt64LE(opts.offset ?? 0n, OFF_LO_OFFSET);
  b.writeBigUInt64LE(opts.sizeLimit ?? 0n, OFF_LO_SIZELIMIT);
  const flags = (opts.readOnly ?? true ? LO_FLAGS_READ_ONLY : 0) | (opts.autoclear ?? true ? LO_FLAGS_AUTOCLEAR : 0);
  b.writeUInt32LE(flags, OFF_LO_FLAGS);
  // The name is informative (shown in /sys/block/loopN/loop/backing_file comes from the fd).
  Buffer.from(file, "utf8").subarray(0, LO_NAME_SIZE - 1).copy(b, OFF_LO_FILE_NAME);
  return b;
}

/** An attached loop device, held open by this process until `release()`. */
export interface AttachedLoop {
  /** /dev/loopN */
  device: string;
  /**
   * Closes our handle. With autoclear, the device detaches when its last user goes: release
   * only after mounting it (the mount is then the user), or it detaches at once.
   */
  release(): void;
}

/**
 * Attaches `file` to a free loop device. Retries when another process takes the same free
 * device first (EBUSY), a bounded number of times.
 */
export function attachLoop(file: string, opts: LoopOptions = {}): AttachedLoop {
  const c = libc();
  const readOnly = opts.readOnly ?? true;
  const backing = check("open", c.open(cstr(file), (readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC, 0), file);
  try {
    const ctl = check("open", c.open(cstr("/dev/loop-control"), O_RDWR | O_CLOEXEC, 0), "/dev/loop-control");
    try {
      for (let attempt = 0; attempt < 8; attempt++) {
        const n = check("ioctl LOOP_CTL_GET_FREE", c.ioctl(ctl, LOOP_CTL_GET_FREE, null), "/dev/loop-control");
        const dev = `/dev/loop${n}`;
        const fd = check("open", c.open(cstr(dev), (readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC, 0), dev);
        const cfg = encodeLoopConfig(backing, file, opts);
        if (c.ioctl(fd, LOOP_CONFIGURE, bufPtr(cfg)) === 0) {
          let open = true;
          return {
            device: dev,
            release: () => {
              if (open) c.close(fd);
              open = false;
            },
          };
        }
        const e = errno();
        c.close(fd);
        if (e !== 16 /* EBUSY: raced with another attacher */) throw new SysError("ioctl LOOP_CONFIGURE", e, `${dev} <- ${file}`);
      }
      throw new Error(`loop: no free loop device for ${file} after 8 attempts (all busy)`);
    } finally {
      c.close(ctl);
    }
  } finally {
    c.close(backing);
  }
}

/** Detaches a loop device (EBUSY while mounted unless it was attached with autoclear). */
export function detachLoop(dev: string): void {
  const c = libc();
  const fd = check("open", c.open(cstr(dev), O_RDONLY | O_CLOEXEC, 0), dev);
  try {
    check("ioctl LOOP_CLR_FD", c.ioctl(fd, LOOP_CLR_FD, null), dev);
  } finally {
    c.close(fd);
  }
}
