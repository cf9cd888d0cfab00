/** Kernel parameters through /proc/sys, and the hardening set applied at every boot. */
import { writeFileSync } from "node:fs";

/**
 * KSPP-recommended settings (Talos enforces the same family at boot). Each one closes a known
 * path from an unprivileged process to kernel pointers, logs, other processes' memory or JIT
 * spraying; fs.protected_* close /tmp link and FIFO races.
 */
export const KSPP_SYSCTLS: Record<string, string> = {
  "kernel.kptr_restrict": "2",
  "kernel.dmesg_restrict": "1",
  "kernel.perf_event_paranoid": "3",
  "kernel.yama.ptrace_scope": "2",
  "kernel.unprivileged_bpf_disabled": "1",
  "net.core.bpf_jit_harden": "2",
  "kernel.kexec_load_disabled": "1",
  "kernel.sysrq": "0",
  "dev.tty.ldisc_autoload": "0",
  "fs.protected_symlinks": "1",
  "fs.protected_hardlinks": "1",
  "fs.protected_fifos": "2",
  "fs.protected_regular": "2",
  "fs.suid_dumpable": "0",
  "vm.unprivileged_userfaultfd": "0",
  "vm.mmap_min_addr": "65536",
};

export function sysctlPath(name: string): string {
  if (!/^[a-z0-9_]+(\.[a-z0-9_*-]+)+$/i.test(name) || name.includes("..")) throw new Error(`sysctl "${name}": not a valid name`);
  return `/proc/sys/${name.replaceAll(".", "/")}`;
}

/** Writes each setting; returns one message per setting that failed (missing in this kernel, refused). */
export function applySysctls(settings: Record<string, string>): string[] {
  const failed: string[] = [];
  for (const [k, v] of Object.entries(settings)) {
    try {
      writeFileSync(sysctlPath(k), String(v));
    } catch (err) {
      failed.push(`sysctl ${k}=${v}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return failed;
}
