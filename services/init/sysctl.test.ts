import { expect, test } from "bun:test";
import { applySysctls, KSPP_SYSCTLS, sysctlPath } from "./sysctl.ts";

test("sysctl names map to /proc/sys paths; malformed names are refused by name", () => {
  expect(sysctlPath("net.ipv4.ip_forward")).toBe("/proc/sys/net/ipv4/ip_forward");
  expect(() => sysctlPath("../../etc/passwd")).toThrow('sysctl "../../etc/passwd": not a valid name');
  expect(() => sysctlPath("kernel")).toThrow("not a valid name");
});

test("a setting the kernel lacks is reported, not thrown", () => {
  const failed = applySysctls({ "kernel.bunker_no_such_setting": "1" });
  expect(failed.length).toBe(1);
  expect(failed[0]).toContain("sysctl kernel.bunker_no_such_setting=1:");
});

test("the KSPP set holds the settings the hardening guide names", () => {
  expect(KSPP_SYSCTLS).toMatchObject({
    "kernel.kptr_restrict": "2", "kernel.dmesg_restrict": "1", "kernel.unprivileged_bpf_disabled": "1",
    "net.core.bpf_jit_harden": "2", "kernel.kexec_load_disabled": "1", "fs.protected_symlinks": "1",
  });
  expect(["2", "3"]).toContain(KSPP_SYSCTLS["kernel.yama.ptrace_scope"]!);
  for (const k of Object.keys(KSPP_SYSCTLS)) expect(() => sysctlPath(k)).not.toThrow();
});
