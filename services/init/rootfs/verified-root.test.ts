import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ROOT_INFO } from "../../../core/image/layout.ts";
import { rootMount, verifiedRoot, type RootPaths } from "./verified-root.ts";

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

const SQUASH_ROOT = "1 1 0:2 / / rw - rootfs rootfs rw\n22 1 253:0 / / ro,nosuid,nodev - squashfs /dev/dm-0 ro\n23 22 0:5 / /dev rw - devtmpfs devtmpfs rw\n";

/** A node's view laid out in a folder: mountinfo, /sys/dev/block, the root's image.json. */
function fixture(o: { mountinfo?: string; dmName?: string | null; info?: string } = {}): RootPaths {
  const d = mkdtempSync(join(tmpdir(), "verified-root-"));
  dirs.push(d);
  writeFileSync(join(d, "mountinfo"), o.mountinfo ?? SQUASH_ROOT);
  const dev = join(d, "sys/253:0");
  mkdirSync(join(dev, "dm"), { recursive: true });
  writeFileSync(join(dev, "uevent"), "MAJOR=253\nMINOR=0\nDEVNAME=dm-0\nDEVTYPE=disk\n");
  if (o.dmName === null) rmSync(join(dev, "dm"), { recursive: true });
  else writeFileSync(join(dev, "dm/name"), `${o.dmName ?? "bunker-root"}\n`);
  mkdirSync(dirname(join(d, "root", ROOT_INFO)), { recursive: true });
  writeFileSync(join(d, "root", ROOT_INFO), o.info ?? '{"version":"1.2.3","commit":"abc","securityVersion":4}\n');
  return { mountinfo: join(d, "mountinfo"), sysBlock: join(d, "sys"), root: join(d, "root") };
}

describe("verifiedRoot", () => {
  test("the last mount on / is the root", () => {
    expect(rootMount(SQUASH_ROOT)).toEqual({ dev: "253:0", fstype: "squashfs" });
    expect(rootMount("1 1 0:2 / /x rw - tmpfs t rw\n")).toBeUndefined();
  });

  test("a SquashFS on the verity device: the image's version and security version", () => {
    expect(verifiedRoot(fixture())).toEqual({ device: "dm-0", version: "1.2.3", commit: "abc", securityVersion: 4 });
  });

  test("a root that is not the shim's verity device is named", () => {
    expect(() => verifiedRoot(fixture({ dmName: null }))).toThrow("the root (device 253:0) is not a device-mapper device: it was not mounted through dm-verity");
    expect(() => verifiedRoot(fixture({ dmName: "other" }))).toThrow("the root is device-mapper device 'other', not 'bunker-root'");
    expect(() => verifiedRoot(fixture({ mountinfo: "1 1 0:2 / / rw - rootfs rootfs rw\n" }))).toThrow("the root is rootfs, not the image's SquashFS");
  });

  test("a malformed image.json says where and what", () => {
    expect(() => verifiedRoot(fixture({ info: '{"version":"1","commit":"c","securityVersion":-1}' }))).toThrow(`${ROOT_INFO}: want {"version": string, "commit": string, "securityVersion": integer}`);
    expect(() => verifiedRoot(fixture({ info: "{" }))).toThrow(`${ROOT_INFO}: JSON Parse error`);
  });
});
