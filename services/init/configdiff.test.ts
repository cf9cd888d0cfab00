import { expect, test } from "bun:test";
import { diffConfigs } from "./configdiff.ts";

test("changes are listed by dotted path with their kind and whether they apply live", () => {
  const old = { version: "v1alpha1", machine: { type: "worker", network: { hostname: "a" }, certSANs: ["x"], install: { disk: "/dev/sda" } } };
  const next = { version: "v1alpha1", machine: { type: "worker", network: { hostname: "b" }, certSANs: ["x", "y"], sysctls: { "net.ipv4.ip_forward": "1" } } };
  expect(diffConfigs(old, next)).toEqual([
    { path: "machine.certSANs", kind: "changed", live: false },
    { path: "machine.install.disk", kind: "removed", live: false },
    { path: "machine.network.hostname", kind: "changed", live: true },
    { path: "machine.sysctls.net.ipv4.ip_forward", kind: "added", live: true },
  ]);
  expect(diffConfigs(next, next)).toEqual([]);
  expect(diffConfigs(undefined, { version: "v1alpha1" })).toEqual([{ path: "version", kind: "added", live: false }]);
});
