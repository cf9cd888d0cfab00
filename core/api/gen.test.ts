import { expect, test } from "bun:test";
import { resolve } from "node:path";
import { bunker } from "./gen/api.js";
import { MachineService, ResourceService, allMethods } from "./gen/services.ts";

const root = resolve(import.meta.dir, "../..");

test("core/api/gen matches the .proto files (bun scripts/gen-api.ts --check)", () => {
  const p = Bun.spawnSync([process.execPath, "scripts/gen-api.ts", "--check"], { cwd: root, stderr: "pipe", stdout: "pipe" });
  expect(p.stderr.toString()).toBe("");
  expect(p.exitCode).toBe(0);
}, 60_000);

test("int64 fields round-trip as plain numbers, not Long objects", () => {
  const t = 1_764_099_000_123; // above 2^32, below 2^53
  const E = bunker.machine.v1.ServiceEvent;
  const d = E.decode(E.encode({ time: t, state: "Running" }).finish());
  expect(typeof d.time).toBe("number");
  expect(d.time).toBe(t);
  const M = bunker.resource.v1.Metadata;
  const m = M.decode(M.encode({ version: 2 ** 40 + 1, updated: -5 }).finish());
  expect(m.version).toBe(2 ** 40 + 1);
  expect(m.updated).toBe(-5);
});

test("the method table names every RPC with its path and streaming flag", () => {
  expect(MachineService.Version.path).toBe("/bunker.machine.v1.MachineService/Version");
  expect(MachineService.Logs.responseStream).toBe(true);
  expect(MachineService.Version.responseStream).toBe(false);
  expect(ResourceService.Watch.responseStream).toBe(true);
  expect(allMethods.get("/bunker.resource.v1.ResourceService/Get")?.name).toBe("Get");
  expect(allMethods.size).toBe(Object.keys(MachineService).length + Object.keys(ResourceService).length);
  for (const name of ["Logs", "Dmesg", "Events", "List", "Read"]) {
    expect(allMethods.get(`/bunker.machine.v1.MachineService/${name}`)?.responseStream).toBe(true);
  }
});
