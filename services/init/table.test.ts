import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { Store } from "../../core/resources/index.ts";
import { serviceTable, type TableContext } from "./table.ts";

const networkdArgv = (t: Partial<TableContext>) => {
  const ctx: TableContext = { mode: "container", socketPath: "/x/init.sock", networkStateDir: "/x/network", ...t };
  const s = serviceTable(new Store(), ctx).find((x) => x.id === "networkd")!;
  return s.runner!.argv;
};

test("the dashboard: on tty1 of a node, unless the kernel command line turns it off; never in container mode", () => {
  const skip = (t: Partial<TableContext>) => serviceTable(new Store(), { mode: "metal", socketPath: "/x/init.sock", networkStateDir: "/x/network", ...t })
    .find((x) => x.id === "dashboard")!.skip!();
  expect(skip({ noDashboard: true })).toBe("turned off on the kernel command line (bunker.dashboard=0)");
  expect(skip({ mode: "container" })).toStartWith("container mode has no screen of its own");
  // Otherwise it runs where the kernel has a virtual console.
  expect(skip({})).toBe(existsSync("/dev/tty1") ? undefined : "no /dev/tty1: this kernel has no virtual console");
});

test("container mode: networkd only observes unless the node has a namespace of its own (--manage-network)", () => {
  // Observing is the default: a node started on a host shares the host's network unless put elsewhere.
  expect(networkdArgv({})).toContain("--observe");
  expect(networkdArgv({ manageNetwork: true })).not.toContain("--observe");
  // A node always manages its network.
  expect(networkdArgv({ mode: "metal" })).not.toContain("--observe");
});
