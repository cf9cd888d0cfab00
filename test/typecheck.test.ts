import { expect, test } from "bun:test";
import { resolve } from "node:path";

// The whole tree type-checks under strict settings; a type error anywhere fails the suite.
test("tsc --noEmit passes over the whole project", () => {
  const root = resolve(import.meta.dir, "..");
  const r = Bun.spawnSync([resolve(root, "node_modules/.bin/tsc"), "--noEmit", "-p", root], { cwd: root });
  const out = r.stdout.toString() + r.stderr.toString();
  if (r.exitCode !== 0) console.error(out);
  expect(r.exitCode).toBe(0);
}, 120_000);
