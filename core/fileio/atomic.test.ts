import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { straceSkipReason, syncCalls } from "../../test/lib/durable.ts";
import { FileExistsError, writeAtomic, writeFileAtomic } from "./atomic.ts";

const dir = mkdtempSync(join(tmpdir(), "bunker-atomic-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("writes with the requested mode whatever the umask, and leaves no temporary behind", () => {
  const old = process.umask(0o077);
  try {
    writeFileAtomic(join(dir, "a"), "one", { mode: 0o644 });
  } finally {
    process.umask(old);
  }
  writeFileAtomic(join(dir, "b"), "secret", { mode: 0o600 });
  expect(statSync(join(dir, "a")).mode & 0o777).toBe(0o644);
  expect(statSync(join(dir, "b")).mode & 0o777).toBe(0o600);
  expect(readFileSync(join(dir, "b"), "utf8")).toBe("secret");
  expect(readdirSync(dir).sort()).toEqual(["a", "b"]);
});

test("refuses to replace an existing file unless told to, and keeps its content", () => {
  const p = join(dir, "c");
  writeFileSync(p, "old");
  expect(() => writeFileAtomic(p, "new")).toThrow(FileExistsError);
  expect(readFileSync(p, "utf8")).toBe("old");
  writeFileAtomic(p, "new", { overwrite: true, mode: 0o600 });
  expect(readFileSync(p, "utf8")).toBe("new");
  expect(statSync(p).mode & 0o777).toBe(0o600);
  expect(readdirSync(dir).filter((n) => n.endsWith(".tmp"))).toEqual([]);
});

test("a missing directory is an error naming the path", () => {
  expect(() => writeFileAtomic(join(dir, "no/such/x"), "x")).toThrow(/no\/such/);
});

test("an owner is set before the file takes its name; writeAtomic replaces a state file 0600", () => {
  const p = join(dir, "owned");
  writeFileAtomic(p, "x", { mode: 0o640, owner: { uid: 65534, gid: 65534 } });
  expect([statSync(p).uid, statSync(p).gid, statSync(p).mode & 0o777]).toEqual([65534, 65534, 0o640]);
  writeAtomic(p, "state");
  writeAtomic(p, "state 2", { uid: 52, gid: 52 });
  expect([readFileSync(p, "utf8"), statSync(p).uid, statSync(p).mode & 0o777]).toEqual(["state 2", 52, 0o600]);
  expect(readdirSync(dir).filter((n) => n.includes(".tmp"))).toEqual([]);
});

test.skipIf(straceSkipReason !== null)(`a replaced file survives a power cut: the directory is fsynced after the rename${straceSkipReason ? ` (skipped: ${straceSkipReason})` : ""}`, () => {
  const r = syncCalls(`import { mkdirSync } from "node:fs"; import { writeAtomic } from ${JSON.stringify(resolve(import.meta.dir, "atomic.ts"))};`,
    `mkdirSync(dir); writeAtomic(dir + "/config.yaml", "one"); writeAtomic(dir + "/config.yaml", "two");`);
  expect(r.calls.filter((c) => c.call === "rename")).toHaveLength(2);
  expect(r.renamesDurable).toBe(true);
});
