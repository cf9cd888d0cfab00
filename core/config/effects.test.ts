import { expect, test } from "bun:test";
import { APPLY_EFFECTS, applyEffect, diffConfigs, splitPath } from "./effects.ts";
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

test("a real config's changes: any reboot change is marked, lists change whole", () => {
  const before = loadConfig(fixture("controlplane.yaml")).config!;
  expect(diffConfigs(before, structuredClone(before))).toEqual([]);

  const live = structuredClone(before);
  live.machine.network.interfaces[0]!.mtu = 9000;
  live.machine.sysctls["net.ipv4.ip_forward"] = "0";
  live.machine.network.nameservers.push("8.8.8.8");
  expect(diffConfigs(before, live)).toEqual([
    { path: "machine.network.interfaces", kind: "changed", live: true },
    { path: "machine.network.nameservers", kind: "changed", live: true },
    { path: "machine.sysctls.net.ipv4.ip_forward", kind: "changed", live: true },
  ]);

  const reboot = structuredClone(live);
  reboot.machine.files[0]!.content = "changed\n";
  reboot.machine.install = undefined;
  const changes = diffConfigs(before, reboot);
  expect(changes).toContainEqual({ path: "machine.files", kind: "changed", live: false });
  const install = changes.filter((c) => c.path.startsWith("machine.install"));
  expect(install.length).toBeGreaterThan(1);
  for (const c of install) expect(c).toEqual({ path: c.path, kind: "removed", live: c.path !== "machine.install.extraKernelArgs" });
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

test("changes are listed by dotted path with their kind and whether they apply live", () => {
  const old = { version: "v1alpha1", machine: { type: "worker", network: { hostname: "a" }, certSANs: ["x"], install: { disk: "/dev/sda" } } };
  const next = { version: "v1alpha1", machine: { type: "worker", network: { hostname: "b" }, certSANs: ["x", "y"], sysctls: { "net.ipv4.ip_forward": "1" }, kernel: { args: ["quiet"] } } };
  expect(diffConfigs(old, next)).toEqual([
    { path: "machine.certSANs", kind: "changed", live: true },
    { path: "machine.install.disk", kind: "removed", live: true },
    { path: "machine.kernel.args", kind: "added", live: false },
    { path: "machine.network.hostname", kind: "changed", live: true },
    { path: "machine.sysctls.net.ipv4.ip_forward", kind: "added", live: true },
  ]);
  expect(diffConfigs(next, next)).toEqual([]);
  expect(diffConfigs(undefined, { version: "v1alpha1" })).toEqual([{ path: "version", kind: "added", live: false }]);
});

test("the CA and the accepted CAs apply live (apid's certificates are re-issued and reloaded); the machine type does not", () => {
  const old = { machine: { type: "controlplane", ca: { crt: "A", key: "a" } } };
  const next = { machine: { type: "controlplane", ca: { crt: "B", key: "b" }, acceptedCAs: [{ crt: "A" }] } };
  expect(diffConfigs(old, next)).toEqual([
    { path: "machine.acceptedCAs", kind: "added", live: true },
    { path: "machine.ca.crt", kind: "changed", live: true },
    { path: "machine.ca.key", kind: "changed", live: true },
  ]);
  expect(diffConfigs(old, { machine: { ...next.machine, type: "worker" } }).find((c) => c.path === "machine.type")).toEqual({ path: "machine.type", kind: "changed", live: false });
});

/** A config holding only `path` (a field-reference path, `[]` for a list's one item). */
function configAt(path: string): Record<string, unknown> {
  const keys = path.split(".");
  const root: Record<string, unknown> = {};
  let at: Record<string, unknown> = root;
  keys.forEach((k, i) => {
    const list = k.endsWith("[]");
    const key = list ? k.slice(0, -2) : k;
    const last = i === keys.length - 1;
    if (last) { at[key] = list ? ["x"] : "x"; return; }
    const next: Record<string, unknown> = {};
    at[key] = list ? [next] : next;
    at = next;
  });
  return root;
}

test("the node decides live or reboot by the table docs/config.md shows, for every field of the schema", () => {
  const rows = fieldReference();
  expect(rows.length).toBeGreaterThan(50);
  const disagree: string[] = [];
  for (const row of rows) {
    // Lists compare whole, so a field inside a list's item changes as its list.
    const reported = row.path.includes("[]") ? row.path.slice(0, row.path.indexOf("[]")) : row.path;
    for (const change of diffConfigs({}, configAt(row.path))) {
      if (change.path !== reported && !change.path.startsWith(`${reported}.`)) continue;
      if (change.live !== (row.effect === "live")) disagree.push(`${row.path}: docs ${row.effect}, node ${change.live ? "live" : "reboot"}`);
    }
  }
  expect(disagree).toEqual([]);
});
