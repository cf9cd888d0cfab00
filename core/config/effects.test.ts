import { expect, test } from "bun:test";
import { APPLY_EFFECTS, applyEffect, planApply, splitPath } from "./effects.ts";
import { fieldReference } from "./reference.ts";
import { formatPath } from "./problem.ts";
import { loadConfig } from "./load.ts";
import { fixture } from "./testdata/fixtures.ts";

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
  expect(applyEffect("machine.ca.crt")).toBe("live");
  expect(applyEffect("machine.type")).toBe("reboot");
  expect(applyEffect("cluster.controlPlane.endpoint")).toBe("live");
  expect(applyEffect("cluster.etcd.ca.crt")).toBe("reboot");
  expect(applyEffect("machine.somethingNew")).toBe("reboot");
  expect(applyEffect("nonsense")).toBe("reboot");
});

test("every rule names a reason", () => {
  for (const r of APPLY_EFFECTS) expect(r.why.length).toBeGreaterThan(5);
});

test("planApply lists each changed path with its effect; any reboot makes the whole a reboot", () => {
  const before = loadConfig(fixture("controlplane.yaml")).config!;
  expect(planApply(before, structuredClone(before))).toEqual({ changes: [], effect: "live" });

  const live = structuredClone(before);
  live.machine.network.interfaces[0]!.mtu = 9000;
  live.machine.sysctls["net.ipv4.ip_forward"] = "0";
  live.machine.network.nameservers.push("8.8.8.8");
  const plan0 = planApply(before, live);
  expect(plan0.effect).toBe("live");
  expect(plan0.changes.map((c) => `${c.path} ${c.effect}`).sort()).toEqual([
    "machine.network.interfaces[0].mtu live",
    "machine.network.nameservers live",
    'machine.sysctls["net.ipv4.ip_forward"] live',
  ]);

  const reboot = structuredClone(live);
  reboot.machine.files[0]!.content = "changed\n";
  reboot.machine.install = undefined;
  const plan = planApply(before, reboot);
  expect(plan.effect).toBe("reboot");
  expect(plan.changes).toContainEqual({ path: "machine.files[0].content", effect: "reboot" });
  expect(plan.changes).toContainEqual({ path: "machine.install", effect: "live" });
});

test("every setting of the schema has its own rule, and every rule names a field of the schema", () => {
  const fields = new Set(fieldReference().map((r) => r.path));
  // The top-level keys and each section of machine and cluster: a new one must be decided here.
  const settings = [...fields].filter((p) => /^[^.[\]]+$/.test(p) || /^(machine|cluster)\.[^.[\]]+$/.test(p));
  const ruled = new Set(APPLY_EFFECTS.map((r) => r.path));
  expect(settings.filter((p) => !ruled.has(p))).toEqual([]);
  expect([...ruled].filter((p) => !fields.has(p))).toEqual([]);
  // Every field's effect comes from a rule written for it or for a section above it.
  for (const f of fields) expect(APPLY_EFFECTS.some((r) => f === r.path || f.startsWith(`${r.path}.`) || f.startsWith(`${r.path}[]`))).toBe(true);
});
