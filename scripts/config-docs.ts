/**
 * Refreshes the generated tables of docs/config.md (field reference, apply effects) from the
 * schema. Usage: bun scripts/config-docs.ts. core/config/reference.test.ts fails when they are stale.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { generatedDocSections, refreshGenerated } from "../core/config/reference.ts";

const file = resolve(import.meta.dir, "../docs/config.md");
writeFileSync(file, refreshGenerated(readFileSync(file, "utf8"), generatedDocSections()));
console.error(`refreshed ${file}`);
