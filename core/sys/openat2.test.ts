import { afterAll, expect, test } from "bun:test";
import { closeSync, fstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SysError } from "./libc.ts";
import { AT_FDCWD, O, OPENAT2_ERRNO, openat2, RESOLVE } from "./openat2.ts";

const dir = mkdtempSync(join(tmpdir(), "bunker-openat2-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
mkdirSync(join(dir, "root/sub"), { recursive: true });
writeFileSync(join(dir, "root/sub/f"), "inside");
writeFileSync(join(dir, "outside"), "outside");
symlinkSync("sub/f", join(dir, "root/in"));
symlinkSync("../outside", join(dir, "root/out"));
symlinkSync(join(dir, "outside"), join(dir, "root/abs"));

const errnoOf = (f: () => unknown) => { try { f(); return 0; } catch (e) { return e instanceof SysError ? e.errno : -1; } };
const BENEATH = RESOLVE.BENEATH | RESOLVE.NO_MAGICLINKS;

test("opens beneath a directory; symlinks that stay inside are followed", () => {
  const root = openat2(AT_FDCWD, join(dir, "root"), O.PATH | O.DIRECTORY, 0);
  try {
    for (const p of ["sub/f", "in"]) {
      const fd = openat2(root, p, O.RDONLY, BENEATH);
      expect(fstatSync(fd).size).toBe(6);
      expect(readFileSync(`/proc/self/fd/${fd}`, "utf8")).toBe("inside");
      closeSync(fd);
    }
    // Leaving it: through .., a relative or an absolute symlink.
    for (const p of ["../outside", "out", "abs", "sub/../../outside"]) expect([p, errnoOf(() => openat2(root, p, O.RDONLY, BENEATH))]).toEqual([p, OPENAT2_ERRNO.EXDEV]);
    expect(errnoOf(() => openat2(root, "nope", O.RDONLY, BENEATH))).toBe(OPENAT2_ERRNO.ENOENT);
    expect(errnoOf(() => openat2(root, "in", O.RDONLY, RESOLVE.NO_SYMLINKS))).toBe(OPENAT2_ERRNO.ELOOP);
  } finally {
    closeSync(root);
  }
});

test("magic links are refused", () => {
  expect(errnoOf(() => openat2(AT_FDCWD, "/proc/self/root/etc/hostname", O.RDONLY, RESOLVE.NO_MAGICLINKS))).toBe(OPENAT2_ERRNO.ELOOP);
});
