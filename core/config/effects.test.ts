import { expect, test } from "bun:test";
import { APPLY_EFFECTS, applyEffect, splitPath } from "./effects.ts";
import { formatPath } from "./problem.ts";

test("paths split into keys and indices, the inverse of formatPath", () => {
  for (const segs of [["machine", "network", "interfaces", 1, "addresses", 0], ["machine", "sysctls", "net.ipv4.ip_forward"], ["cluster"]]) {
    expect(splitPath(formatPath(segs))).toEqual(segs);
  }
});

test("the most specific rule decides; unknown paths need a reboot", () => {
  expect(applyEffect("machine.network.interfaces[1].mtu")).toBe("live");
  expect(applyEffect(["machine", "sysctls", "net.ipv4.ip_forward"])).toBe("live");
  expect(applyEffect('machine.sysctls["net.ipv4.ip_forward"]')).toBe("live");
  expect(applyEffect("machine.install.disk")).toBe("live");
  expect(applyEffect("machine.install.extraKernelArgs[0]")).toBe("reboot");
  expect(applyEffect("machine.files[0].content")).toBe("reboot");
  expect(applyEffect("machine.ca.crt")).toBe("reboot");
  expect(applyEffect("cluster.controlPlane.endpoint")).toBe("live");
  expect(applyEffect("cluster.etcd.ca.crt")).toBe("reboot");
  expect(applyEffect("machine.somethingNew")).toBe("reboot");
  expect(applyEffect("nonsense")).toBe("reboot");
});

test("every rule names a reason", () => {
  for (const r of APPLY_EFFECTS) expect(r.why.length).toBeGreaterThan(5);
});
