import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseMembers } from "../../core/api/members.ts";
import { configMembers, writeMembers } from "./apidmembers.ts";

const dir = mkdtempSync(join(tmpdir(), "bunker-members-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("the control plane endpoint is a member, host and port as written", () => {
  const cfg = (endpoint: string) => ({ cluster: { controlPlane: { endpoint } } });
  expect(configMembers(cfg("https://10.5.0.2:50000"))).toEqual([{ address: "10.5.0.2:50000", source: "cluster.controlPlane.endpoint" }]);
  expect(configMembers(cfg("https://CP.Example.com:6443/"))).toEqual([{ address: "cp.example.com:6443", source: "cluster.controlPlane.endpoint" }]);
  expect(configMembers(cfg("https://[fd00:0::2]:50000"))).toEqual([{ address: "[fd00::2]:50000", source: "cluster.controlPlane.endpoint" }]);
  expect(configMembers(undefined)).toEqual([]);
  expect(configMembers({})).toEqual([]);
  expect(configMembers(cfg("not a url"))).toEqual([]);
});

test("written as apid reads it", () => {
  const path = join(dir, "members");
  writeMembers(path, configMembers({ cluster: { controlPlane: { endpoint: "https://10.5.0.2:50000" } } }));
  expect(parseMembers(readFileSync(path, "utf8"), path)).toEqual(["10.5.0.2:50000"]);
});

test("every control plane of cluster.controlPlane.nodes is a member at apid's port, the endpoint's not twice", () => {
  const c = { cluster: { controlPlane: { endpoint: "https://10.5.0.2:50000", nodes: ["10.5.0.2", "10.5.0.3", "fd00::4", "cp4.example.com"] } } };
  expect(configMembers(c)).toEqual([
    { address: "10.5.0.2:50000", source: "cluster.controlPlane.endpoint" },
    { address: "10.5.0.3:50000", source: "cluster.controlPlane.nodes" },
    { address: "[fd00::4]:50000", source: "cluster.controlPlane.nodes" },
    { address: "cp4.example.com:50000", source: "cluster.controlPlane.nodes" },
  ]);
});
