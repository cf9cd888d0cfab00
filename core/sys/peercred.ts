/** The credentials of the process at the other end of a unix socket (SO_PEERCRED). */
import { ptr } from "bun:ffi";
import { check, libc } from "./libc.ts";

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;

export interface PeerCred { pid: number; uid: number; gid: number }

export function peerCredentials(fd: number): PeerCred {
  const ucred = new Int32Array(3); // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
  const len = new Uint32Array([12]);
  check("getsockopt", libc().getsockopt(fd, SOL_SOCKET, SO_PEERCRED, ptr(ucred), ptr(len)), `SO_PEERCRED fd ${fd}`);
  return { pid: ucred[0]!, uid: ucred[1]! >>> 0, gid: ucred[2]! >>> 0 };
}
