/**
 * Process credentials and exec: what a service runner needs between fork and exec that Bun.spawn
 * does not offer (supplementary groups, real/effective/saved ids, execve itself), plus the prctl
 * and rlimit constants. Its own symbols, opened through libc.ts's lazyLibc, so the shared table stays as it is.
 */
import { FFIType, ptr } from "bun:ffi";
import { readFileSync } from "node:fs";
import { check, cstr, lazyLibc, libc } from "./libc.ts";

const { i32, u32, u64, ptr: P } = FFIType;

const symbols = {
  execve: { args: [P, P, P], returns: i32 },
  setgroups: { args: [u64, P], returns: i32 },
  setresuid: { args: [u32, u32, u32], returns: i32 },
  setresgid: { args: [u32, u32, u32], returns: i32 },
  capset: { args: [P, P], returns: i32 },
} as const;

const proc = lazyLibc(symbols);

export const PR = {
  SET_PDEATHSIG: 1,
  SET_KEEPCAPS: 8,
  CAPBSET_READ: 23,
  CAPBSET_DROP: 24,
  SET_CHILD_SUBREAPER: 36,
  SET_NO_NEW_PRIVS: 38,
  GET_NO_NEW_PRIVS: 39,
  CAP_AMBIENT: 47,
} as const;

const PR_CAP_AMBIENT_RAISE = 2n;
/** _LINUX_CAPABILITY_VERSION_3: two 32-bit words per set. */
const CAP_VERSION_3 = 0x20080522;

export const RLIMIT = {
  CPU: 0, FSIZE: 1, DATA: 2, STACK: 3, CORE: 4, NOFILE: 7, AS: 9, NPROC: 6, MEMLOCK: 8,
} as const;

/** The highest capability number the kernel knows (CAP_CHECKPOINT_RESTORE on 5.9+). */
export function lastCap(): number {
  try {
    return Number(readFileSync("/proc/sys/kernel/cap_last_cap", "utf8").trim());
  } catch {
    return 40;
  }
}

export const CAPS: Record<string, number> = {
  CAP_CHOWN: 0, CAP_DAC_OVERRIDE: 1, CAP_DAC_READ_SEARCH: 2, CAP_FOWNER: 3, CAP_FSETID: 4,
  CAP_KILL: 5, CAP_SETGID: 6, CAP_SETUID: 7, CAP_SETPCAP: 8, CAP_LINUX_IMMUTABLE: 9,
  CAP_NET_BIND_SERVICE: 10, CAP_NET_BROADCAST: 11, CAP_NET_ADMIN: 12, CAP_NET_RAW: 13,
  CAP_IPC_LOCK: 14, CAP_IPC_OWNER: 15, CAP_SYS_MODULE: 16, CAP_SYS_RAWIO: 17, CAP_SYS_CHROOT: 18,
  CAP_SYS_PTRACE: 19, CAP_SYS_PACCT: 20, CAP_SYS_ADMIN: 21, CAP_SYS_BOOT: 22, CAP_SYS_NICE: 23,
  CAP_SYS_RESOURCE: 24, CAP_SYS_TIME: 25, CAP_SYS_TTY_CONFIG: 26, CAP_MKNOD: 27, CAP_LEASE: 28,
  CAP_AUDIT_WRITE: 29, CAP_AUDIT_CONTROL: 30, CAP_SETFCAP: 31, CAP_MAC_OVERRIDE: 32,
  CAP_MAC_ADMIN: 33, CAP_SYSLOG: 34, CAP_WAKE_ALARM: 35, CAP_BLOCK_SUSPEND: 36,
  CAP_AUDIT_READ: 37, CAP_PERFMON: 38, CAP_BPF: 39, CAP_CHECKPOINT_RESTORE: 40,
};

/** Drops every capability not in `keep` from the bounding set (needs CAP_SETPCAP). */
export function restrictBoundingSet(keep: ReadonlySet<number>): void {
  const last = lastCap();
  for (let cap = 0; cap <= last; cap++) {
    if (keep.has(cap)) continue;
    check("prctl", libc().prctl(PR.CAPBSET_DROP, BigInt(cap), 0n, 0n, 0n), `PR_CAPBSET_DROP ${cap}`);
  }
}

/** Whether `pid` exists (a process of another user that we may not signal exists too). */
export function pidAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try { process.kill(pid, 0); return true; } catch (err) { return (err as NodeJS.ErrnoException).code === "EPERM"; }
}

export function setNoNewPrivs(): void {
  check("prctl", libc().prctl(PR.SET_NO_NEW_PRIVS, 1n, 0n, 0n, 0n), "PR_SET_NO_NEW_PRIVS");
}

/** Orphans of our descendants are re-parented to us instead of PID 1 (init in container mode). */
export function setChildSubreaper(): void {
  check("prctl", libc().prctl(PR.SET_CHILD_SUBREAPER, 1n, 0n, 0n, 0n), "PR_SET_CHILD_SUBREAPER");
}

/** Sets soft and hard limit of one resource of this process. */
export function setRlimit(resource: number, soft: bigint, hard: bigint): void {
  const lim = new BigUint64Array([soft, hard]);
  check("prlimit", libc().prlimit(0, resource, ptr(lim), null), `resource ${resource}`);
}

/**
 * Keep the permitted capabilities across the coming change to a non-root uid (this thread; the
 * kernel clears the flag again at execve).
 */
export function keepCapsOnUidChange(): void {
  check("prctl", libc().prctl(PR.SET_KEEPCAPS, 1n, 0n, 0n, 0n), "PR_SET_KEEPCAPS");
}

/**
 * Makes `caps` survive execve as a non-root uid: sets them permitted, effective and inheritable
 * on this thread, then raises them in the ambient set, which execve of an ordinary (non-setuid,
 * no file capabilities) program turns into its permitted and effective sets. Call after the uid
 * change (with keepCapsOnUidChange before it) and from the thread that then calls execve.
 */
export function raiseAmbient(caps: ReadonlySet<number>): void {
  const words = new Uint32Array(6); // [effective, permitted, inheritable] x 2
  for (const c of caps) {
    const word = c >> 5, bit = 1 << (c & 31);
    for (const set of [0, 1, 2]) words[word * 3 + set]! |= bit;
  }
  const header = new Uint32Array([CAP_VERSION_3, 0]);
  check("capset", proc().capset(ptr(header), ptr(words)), `capabilities ${[...caps].join(",")}`);
  for (const c of caps) check("prctl", libc().prctl(PR.CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, BigInt(c), 0n, 0n), `PR_CAP_AMBIENT_RAISE ${c}`);
}

/** Clears the supplementary groups, then sets gid and uid (in that order: uid last drops the right to change). */
export function setCredentials(uid: number, gid: number): void {
  check("setgroups", proc().setgroups(0n, null), "0 groups");
  check("setresgid", proc().setresgid(gid, gid, gid), `gid ${gid}`);
  check("setresuid", proc().setresuid(uid, uid, uid), `uid ${uid}`);
}

/** Replaces this process with `path`. Returns only by throwing. */
export function execve(path: string, argv: string[], env: Record<string, string>): never {
  const keep: Buffer[] = [];
  const array = (items: string[]) => {
    const a = new BigUint64Array(items.length + 1);
    items.forEach((s, i) => {
      const b = cstr(s);
      keep.push(b);
      a[i] = BigInt(ptr(b));
    });
    return a;
  };
  const argvA = array(argv);
  const envA = array(Object.entries(env).map(([k, v]) => `${k}=${v}`));
  const p = cstr(path);
  check("execve", proc().execve(ptr(p), ptr(argvA), ptr(envA)), path);
  throw new Error(`execve ${path}: returned without error`);
}
