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
