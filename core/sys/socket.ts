/**
 * Socket options read through getsockopt(2): the peer credentials of a unix socket (SO_PEERCRED),
 * which is how init's local API knows which process called it. Its own symbols, opened on first
 * use through libc.ts's lazyLibc, keep the shared binding table in libc.ts unchanged.
 */
import { FFIType, ptr } from "bun:ffi";
import { SysError, errno, lazyLibc } from "./libc.ts";

const { i32, ptr: P } = FFIType;

const symbols = {
  getsockopt: { args: [i32, i32, i32, P, P], returns: i32 },
} as const;

const sock = lazyLibc(symbols);

export const SOL_SOCKET = 1;
export const SO_TYPE = 3;
export const SO_PEERCRED = 17;

/** The process at the other end of a unix socket, as the kernel saw it at connect(2). */
export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

/** getsockopt(2) into a buffer of `size` bytes; returns the bytes the kernel filled. */
export function getsockopt(fd: number, level: number, name: number, size: number): Buffer {
  const buf = Buffer.alloc(size);
  const len = new Uint32Array([size]);
  if (sock().getsockopt(fd, level, name, ptr(buf), ptr(len)) < 0) {
    throw new SysError("getsockopt", errno(), `fd ${fd} level ${level} option ${name}`);
  }
  return buf.subarray(0, len[0]);
}

/** SO_PEERCRED of a connected unix socket: struct ucred { pid_t pid; uid_t uid; gid_t gid; }. */
export function peerCred(fd: number): PeerCred {
  const b = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, 12);
  if (b.length < 12) throw new Error(`SO_PEERCRED on fd ${fd}: kernel returned ${b.length} bytes, want 12`);
  return { pid: b.readInt32LE(0), uid: b.readUInt32LE(4), gid: b.readUInt32LE(8) };
}
