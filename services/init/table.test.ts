import { expect, test } from "bun:test";
import { Store } from "../../core/resources/index.ts";
import { serviceTable, type TableContext } from "./table.ts";

const networkdArgv = (t: Partial<TableContext>) => {
  const ctx: TableContext = { mode: "container", socketPath: "/x/init.sock", networkStateDir: "/x/network", ...t };
  const s = serviceTable(new Store(), ctx).find((x) => x.id === "networkd")!;
  return s.runner!.argv;
};

test("container mode: networkd only observes unless the node has a namespace of its own (--manage-network)", () => {
  // Observing is the default: a node started on a host shares the host's network unless put elsewhere.
  expect(networkdArgv({})).toContain("--observe");
  expect(networkdArgv({ manageNetwork: true })).not.toContain("--observe");
  // A node always manages its network.
  expect(networkdArgv({ mode: "metal" })).not.toContain("--observe");
});
