/**
 * What init does only as PID 1 on a node (mode=metal): the late pseudo filesystems, cgroup2 with
 * one cgroup per service, rlimits, ctrl-alt-del routed to a signal, and the power syscalls.
 * /proc, /sys and /dev are already mounted by the pre-init shim (Bun cannot start without /proc).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { check, libc } from "../../core/sys/libc.ts";
import { MS, isMountPoint, mountFs, unmountFs } from "../../core/sys/mount.ts";
import { RLIMIT, setRlimit } from "../../core/sys/process.ts";

export const RB = {
  AUTOBOOT: 0x01234567,
  POWER_OFF: 0x4321fedc,
  HALT_SYSTEM: 0xcdef0123,
  /** ctrl-alt-del no longer reboots at once: the kernel sends SIGINT to PID 1 instead. */
  DISABLE_CAD: 0,
} as const;

export const CGROUP_ROOT = "/sys/fs/cgroup";
/** Services' cgroups live under this one; init itself moves into CGROUP_ROOT/init. */
export const SERVICE_CGROUP_ROOT = `${CGROUP_ROOT}/system`;

function mount(source: string, target: string, fstype: string, flags: number, data: string): void {
  mkdirSync(target, { recursive: true });
  mountFs(source, target, fstype, flags, data);
}

/** tmpfs /run, /tmp, /system (+ its folders), /dev/shm, /dev/pts, and cgroup2. */
export function mountLate(): void {
  const tmpfs = (target: string, data: string, flags = MS.NOSUID | MS.NODEV) => {
    if (!isMountPoint(target)) mount("tmpfs", target, "tmpfs", flags, data);
  };
  tmpfs("/run", "mode=755");
  tmpfs("/tmp", "mode=1777,size=64m", MS.NOSUID | MS.NODEV | MS.NOEXEC);
  tmpfs("/system", "mode=755");
  for (const d of ["etc", "var", "state", "run"]) mkdirSync(`/system/${d}`, { recursive: true, mode: 0o700 });
  tmpfs("/dev/shm", "mode=1777", MS.NOSUID | MS.NODEV | MS.NOEXEC);
  if (!isMountPoint("/dev/pts")) mount("devpts", "/dev/pts", "devpts", MS.NOSUID | MS.NOEXEC, "ptmxmode=000,mode=620,gid=5");
  if (!isMountPoint(CGROUP_ROOT)) mount("cgroup2", CGROUP_ROOT, "cgroup2", MS.NOSUID | MS.NODEV | MS.NOEXEC, "nsdelegate,memory_recursiveprot");
}

/**
 * Moves init into its own leaf cgroup (a cgroup with processes cannot delegate controllers to
 * children), enables the controllers for the children, and creates the services' parent.
 */
export function setupCgroups(): void {
  mkdirSync(`${CGROUP_ROOT}/init`, { recursive: true });
  writeFileSync(`${CGROUP_ROOT}/init/cgroup.procs`, String(process.pid));
  const enable = (dir: string) => {
    const available = readFileSync(`${dir}/cgroup.controllers`, "utf8").trim().split(/\s+/).filter(Boolean);
    const wanted = ["cpu", "memory", "pids", "io"].filter((c) => available.includes(c));
    if (wanted.length) writeFileSync(`${dir}/cgroup.subtree_control`, wanted.map((c) => `+${c}`).join(" "));
  };
  enable(CGROUP_ROOT);
  mkdirSync(SERVICE_CGROUP_ROOT, { recursive: true });
  enable(SERVICE_CGROUP_ROOT);
}

/** Open files enough for every service that inherits from us (Talos sets the same). */
export function setLimits(): void {
  setRlimit(RLIMIT.NOFILE, 1048576n, 1048576n);
}

export function disableCtrlAltDel(): void {
  check("reboot", libc().reboot(RB.DISABLE_CAD), "RB_DISABLE_CAD");
}

export function setHostname(name: string, domain: string): void {
  const h = Buffer.from(name);
  check("sethostname", libc().sethostname(h, BigInt(h.byteLength)), name);
  const d = Buffer.from(domain);
  check("setdomainname", libc().setdomainname(d, BigInt(d.byteLength)), domain);
}

/** Unmounts everything but the pseudo filesystems, deepest first; returns what could not go. */
export function unmountAll(): string[] {
  const keep = new Set(["/", "/proc", "/sys", "/dev"]);
  let targets: string[] = [];
  try {
    targets = readFileSync("/proc/self/mounts", "utf8").split("\n").map((l) => l.split(" ")[1] ?? "").filter((t) => t && !keep.has(t));
  } catch { /* nothing to read: nothing to do */ }
  const failed: string[] = [];
  for (const t of targets.reverse()) {
    if (t.startsWith("/proc/") || t.startsWith("/sys/") || t.startsWith("/dev/")) continue;
    try { unmountFs(t.replaceAll("\\040", " "), true); } catch { failed.push(t); }
  }
  return failed;
}

export type PowerAction = "reboot" | "poweroff" | "halt";

/** Syncs, unmounts, and asks the kernel for the power action. Returns only if the kernel refused. */
export function powerAction(action: PowerAction): void {
  libc().sync();
  unmountAll();
  libc().sync();
  const cmd = action === "reboot" ? RB.AUTOBOOT : action === "poweroff" ? RB.POWER_OFF : RB.HALT_SYSTEM;
  check("reboot", libc().reboot(cmd), action);
}

export function cgroupsAvailable(): boolean {
  return existsSync(`${CGROUP_ROOT}/cgroup.controllers`);
}
