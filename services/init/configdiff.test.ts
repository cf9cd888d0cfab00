import { expect, test } from "bun:test";
import { diffConfigs } from "./configdiff.ts";
import { fieldReference } from "../../core/config/reference.ts";

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
