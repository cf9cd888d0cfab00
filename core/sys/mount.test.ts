import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isMountPoint, MS, mountFs, unmountFs } from "./mount.ts";

// mount(2) needs CAP_SYS_ADMIN; CI runs the suite as root. Each test works in a private tmpfs.
const root = process.getuid?.() === 0;
const dir = mkdtempSync(join(tmpdir(), "bunker-mount-"));
afterAll(() => {
  for (const d of ["moved", "ro", "fs"]) try { unmountFs(join(dir, d), true); } catch { /* not mounted */ }
  rmSync(dir, { recursive: true, force: true });
});

test.skipIf(!root)("tmpfs, a read-only bind of it, and a move: each seen in /proc/self/mounts and undone by unmountFs", () => {
  const fs = join(dir, "fs"), ro = join(dir, "ro"), moved = join(dir, "moved");
  for (const d of [fs, ro, moved]) mkdirSync(d);
  mountFs("tmpfs", fs, "tmpfs", MS.NOSUID | MS.NODEV, "size=1m");
  expect(isMountPoint(fs)).toBe(true);
  writeFileSync(join(fs, "f"), "data");
  mountFs(fs, ro, null, MS.BIND);
  mountFs(null, ro, null, MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NOSUID | MS.NODEV);
  expect(readFileSync(join(ro, "f"), "utf8")).toBe("data");
  expect(() => writeFileSync(join(ro, "g"), "x")).toThrow(/EROFS|read-only/);
  mountFs(ro, moved, null, MS.MOVE);
  expect([isMountPoint(ro), isMountPoint(moved)]).toEqual([false, true]);
  unmountFs(moved);
  unmountFs(fs);
  expect([isMountPoint(fs), isMountPoint(moved)]).toEqual([false, false]);
});

test.skipIf(!root)("a failed mount names what it tried", () => {
  const missing = join(dir, "no-such-dir");
  expect(() => mountFs("tmpfs", missing, "tmpfs")).toThrow(`tmpfs (tmpfs) on ${missing}`);
  expect(() => mountFs(join(dir, "nothing"), missing, null, MS.BIND)).toThrow(`bind ${join(dir, "nothing")} on ${missing}`);
  expect(() => mountFs(null, missing, null, MS.REMOUNT | MS.BIND)).toThrow(`remount ${missing}`);
});
