import { expect, test } from "bun:test";
import { canonicalAddress, formatMembers, parseMembers } from "./members.ts";

test("addresses take one spelling", () => {
  const cases: [string, string | undefined][] = [
    ["10.5.0.2", "10.5.0.2:50000"],
    ["10.5.0.2:50001", "10.5.0.2:50001"],
    ["Node1.Example.COM.", "node1.example.com:50000"],
    ["node1.example.com:443", "node1.example.com:443"],
    ["fd00::2", "[fd00::2]:50000"],
    ["[FD00:0:0::2]:50000", "[fd00::2]:50000"],
    ["[::1]", "[::1]:50000"],
    ["[::ffff:127.0.0.1]:1", "[::ffff:7f00:1]:1"],
    ["localhost:7", "localhost:7"],
    // Not addresses.
    ["", undefined], ["10.5.0.2:0", undefined], ["10.5.0.2:65536", undefined], ["10.5.0.2:0x10", undefined],
    ["10.5.0.2:", undefined], ["[10.5.0.2]:1", undefined], ["fe80::1%eth0", undefined], ["[fe80::1%eth0]:1", undefined],
    ["a b:1", undefined], ["host:1:2", undefined], ["http://x:1", undefined], ["x/y:1", undefined],
    ["256.1.1.1:1", undefined], ["1.2.3:1", undefined], ["-bad-.example:1", undefined], [`${"a".repeat(64)}.example`, undefined],
  ];
  for (const [input, want] of cases) expect([input, canonicalAddress(input, 50000)]).toEqual([input, want]);
});

test("the member file: comments, blank lines, duplicates; a bad line is named", () => {
  const text = formatMembers([
    { address: "10.5.0.2:50000", source: "cluster.controlPlane.endpoint" },
    { address: "10.5.0.2:50000", source: "again" },
    { address: "[fd00::3]:50000", source: "published\nby node 3" },
  ]);
  expect(text).toBe("# Cluster members apid may relay calls to (metadata `node`); written by init.\n10.5.0.2:50000 # cluster.controlPlane.endpoint\n[fd00::3]:50000 # published by node 3\n");
  expect(parseMembers(text, "members")).toEqual(["10.5.0.2:50000", "[fd00::3]:50000"]);
  expect(parseMembers("\n  Node.Example  # a name\n\n", "m")).toEqual(["node.example:50000"]);
  expect(() => parseMembers("10.5.0.2\nnot an address\n", "/run/apid/members")).toThrow('/run/apid/members:2: "not an address" is not HOST:PORT');
});
