/** The compiled trustd: refuses a secrets file others could read, and bad arguments. */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const bin = resolve(import.meta.dir, "../../out/bunker");
const dir = mkdtempSync(join(tmpdir(), "bunker-trustd-main-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("a secrets file readable by others is refused, naming its mode; missing --secrets is a usage error", () => {
  const f = join(dir, "secrets.json");
  writeFileSync(f, "{}", { mode: 0o644 });
  const r = Bun.spawnSync([bin, "trustd", "--secrets", f, "--listen", "127.0.0.1:1"], { stderr: "pipe" });
  expect(r.exitCode).toBe(1);
  expect(r.stderr.toString()).toContain("mode 0644 lets others read the CA key");
  const u = Bun.spawnSync([bin, "trustd"], { stderr: "pipe" });
  expect(u.exitCode).toBe(2);
  expect(u.stderr.toString()).toContain("missing --secrets");
});
