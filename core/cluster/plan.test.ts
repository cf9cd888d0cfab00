import { expect, test } from "bun:test";
import { planCluster, PlanError } from "./plan.ts";

test("control planes first from .2, then workers; names, namespaces and bridge ports follow the role", () => {
  const p = planCluster({ name: "demo", cidr: "10.5.0.0/24", controlplanes: 3, workers: 2 });
  expect(p.gateway).toBe("10.5.0.1");
  expect(p.netns).toBe("bunker-demo");
  expect(p.nodes.map((n) => [n.name, n.role, n.address, n.netns, n.port])).toEqual([
    ["demo-controlplane-1", "controlplane", "10.5.0.2", "bunker-demo-cp1", "cp1"],
    ["demo-controlplane-2", "controlplane", "10.5.0.3", "bunker-demo-cp2", "cp2"],
    ["demo-controlplane-3", "controlplane", "10.5.0.4", "bunker-demo-cp3", "cp3"],
    ["demo-worker-1", "worker", "10.5.0.5", "bunker-demo-w1", "w1"],
    ["demo-worker-2", "worker", "10.5.0.6", "bunker-demo-w2", "w2"],
  ]);
});

test("addresses carry across octets", () => {
  const p = planCluster({ name: "big", cidr: "10.6.0.0/23", controlplanes: 1, workers: 50 });
  expect(p.nodes.at(-1)!.address).toBe("10.6.0.52");
  const q = planCluster({ name: "c", cidr: "192.168.0.248/29", controlplanes: 1, workers: 4 });
  expect(q.nodes.map((n) => n.address)).toEqual(["192.168.0.250", "192.168.0.251", "192.168.0.252", "192.168.0.253", "192.168.0.254"]);
});

test("bad input names the flag and what is wrong", () => {
  const bad = (i: Partial<Parameters<typeof planCluster>[0]>, msg: RegExp) =>
    expect(() => planCluster({ name: "x", cidr: "10.5.0.0/24", controlplanes: 1, workers: 0, ...i })).toThrow(msg);
  bad({ name: "Bad_Name" }, /--name "Bad_Name"/);
  bad({ name: "a".repeat(30) }, /--name/);
  bad({ controlplanes: 0 }, /--controlplanes 0/);
  bad({ workers: -1 }, /--workers -1/);
  bad({ cidr: "10.5.0.1/24" }, /host bits are set \(the network is 10\.5\.0\.0\/24\?\)/);
  bad({ cidr: "fd00::/64" }, /IPv4 network/);
  bad({ cidr: "10.5.0.0/30", workers: 1 }, /room for 1 nodes, 2 asked/);
  expect(() => planCluster({ name: "x", cidr: "nope", controlplanes: 1, workers: 0 })).toThrow(PlanError);
});
