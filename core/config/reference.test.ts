import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fieldReference, generatedDocSections, refreshGenerated } from "./reference.ts";
import { loadConfig } from "./config.ts";
import { fixture } from "./testdata/fixtures.ts";

test("docs/config.md carries the current generated tables (run bun scripts/config-docs.ts)", () => {
  const text = readFileSync(resolve(import.meta.dir, "../../docs/config.md"), "utf8");
  expect(refreshGenerated(text, generatedDocSections())).toBe(text);
});

test("every key of the full sample has a row in the reference, with a description", () => {
  const rows = new Map(fieldReference().map((r) => [r.path, r]));
  const config = loadConfig(fixture("controlplane.yaml")).config!;
  const seen: string[] = [];
  const walk = (v: unknown, path: string) => {
    if (Array.isArray(v)) { v.forEach((x) => walk(x, `${path}[]`)); return; }
    if (v === null || typeof v !== "object" || path === "machine.sysctls") return;
    for (const [k, x] of Object.entries(v)) {
      const p = path ? `${path}.${k}` : k;
      seen.push(p);
      walk(x, p);
    }
  };
  walk(config, "");
  for (const p of seen) {
    expect({ p, row: rows.has(p) }).toEqual({ p, row: true });
    expect(rows.get(p)!.description.length).toBeGreaterThan(3);
  }
  expect(seen.length).toBeGreaterThan(50);
});
