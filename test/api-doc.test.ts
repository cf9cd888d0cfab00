/** docs/api.md stays true: every RPC has a row, with the role and maintenance flag the tables give. */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { allMethods } from "../core/api/gen/services.ts";
import { authorizeMaintenance, rolesFor } from "../core/api/roles.ts";

const doc = readFileSync(join(import.meta.dir, "../docs/api.md"), "utf8");

/** Rows like "| `MachineService.Version` | unary | ... | reader | yes | ... |". */
const rows = new Map<string, string[]>();
for (const line of doc.split("\n")) {
  const m = /^\| `(\w+)\.(\w+)` \|(.*)\|$/.exec(line);
  if (m) rows.set(`${m[1]}.${m[2]}`, m[3]!.split("|").map((c) => c.trim()));
}

function leastRole(path: string): string {
  const roles = rolesFor(path);
  return roles.includes("os:reader") ? "reader" : roles.includes("os:operator") ? "operator" : "admin";
}

test("docs/api.md has one row per RPC, with its streaming kind, role and maintenance flag", () => {
  const names = [...allMethods.values()].map((m) => `${m.service.split(".").at(-1)}.${m.name}`);
  expect([...rows.keys()].sort()).toEqual(names.sort());
  for (const m of allMethods.values()) {
    const [kind, , role, maint] = rows.get(`${m.service.split(".").at(-1)}.${m.name}`)!;
    expect(`${m.name} ${kind}`).toBe(`${m.name} ${m.responseStream ? "stream" : "unary"}`);
    expect(`${m.name} ${role}`).toBe(`${m.name} ${leastRole(m.path)}`);
    expect(`${m.name} ${maint === "yes"}`).toBe(`${m.name} ${authorizeMaintenance(m.path).allowed}`);
  }
});
