import { expect, test } from "bun:test";
import { statSync } from "node:fs";
import { resolve } from "node:path";
import { netnsOwner } from "./netns.ts";
import { Netns, netnsSkipReason } from "../../test/lib/netns.ts";

const probe = `import { netnsOwner } from ${JSON.stringify(resolve(import.meta.dir, "netns.ts"))}; console.log(netnsOwner());`;
let hostReadable = true;
try { statSync("/proc/1/ns/net"); } catch { hostReadable = false; }

test("the system's first process owns its namespace", () => {
  expect(netnsOwner(1)).toBe("own");
});

test.skipIf(netnsSkipReason !== null)(`the host's namespace and one of a process's own are told apart, or unknown where PID 1's cannot be read${netnsSkipReason ? ` (skipped: ${netnsSkipReason})` : ""}`, () => {
  expect(netnsOwner()).toBe(hostReadable ? "host" : "unknown");
  const ns = new Netns("owner");
  try {
    expect(ns.exec([process.execPath, "-e", probe]).trim()).toBe(hostReadable ? "own" : "unknown");
  } finally {
    ns.delete();
  }
});
