import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { unifiedDiff } from "./textdiff.ts";

test("equal texts have no diff", () => {
  expect(unifiedDiff("a\nb\n", "a\nb\n")).toBe("");
});

test("the diff applies with patch(1), and matches diff -U2's hunks", () => {
  const before = Array.from({ length: 30 }, (_, i) => `line ${i}`).join("\n") + "\n";
  const after = before.replace("line 3\n", "line three\n").replace("line 20\n", "").replace("line 29\n", "line 29\nline 30\n");
  const d = unifiedDiff(before, after);
  const dir = mkdtempSync(join(tmpdir(), "bunker-diff-"));
  try {
    writeFileSync(join(dir, "f"), before);
    writeFileSync(join(dir, "d.patch"), d);
    const p = Bun.spawnSync(["patch", "-s", join(dir, "f"), join(dir, "d.patch")], { stderr: "pipe" });
    expect(p.stderr.toString()).toBe("");
    expect(p.exitCode).toBe(0);
    expect(Bun.file(join(dir, "f")).text()).resolves.toBe(after);
    // The hunks are where diff(1) puts them.
    writeFileSync(join(dir, "a"), before);
    writeFileSync(join(dir, "g"), after);
    const theirs = Bun.spawnSync(["diff", "-U2", join(dir, "a"), join(dir, "g")]).stdout.toString();
    const hunks = (s: string) => s.split("\n").filter((l) => l.startsWith("@@"));
    expect(hunks(d)).toEqual(hunks(theirs));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
