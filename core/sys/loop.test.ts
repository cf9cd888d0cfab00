import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { attachLoop, detachLoop, encodeLoopConfig } from "./loop.ts";

const isRoot = process.getuid?.() === 0;
const canLoop = isRoot && existsSync("/dev/loop-control");

describe("loop devices", () => {
  test("struct loop_config layout: fd, flags read-only|autoclear, name", () => {
    const b = encodeLoopConfig(7, "/x.sqsh", { offset: 4096n });
    expect(b.length).toBe(304);
    expect(b.readUInt32LE(0)).toBe(7);
    expect(b.readBigUInt64LE(32)).toBe(4096n);
    expect(b.readUInt32LE(60)).toBe(1 | 4);
    expect(b.subarray(64, 71).toString()).toBe("/x.sqsh");
    expect(encodeLoopConfig(7, "/x", { readOnly: false, autoclear: false }).readUInt32LE(60)).toBe(0);
  });

  // Needs root and /dev/loop-control (attaching a loop device is privileged); CI runs as root.
  test.skipIf(!canLoop)("attaches a SquashFS read-only; mount reads it; autoclear detaches after umount", () => {
    const dir = mkdtempSync(join(tmpdir(), "loop-"));
    let dev = "";
    try {
      mkdirSync(join(dir, "src"));
      writeFileSync(join(dir, "src/hello"), "from squashfs");
      const mk = Bun.spawnSync(["mksquashfs", join(dir, "src"), join(dir, "img"), "-quiet", "-noappend", "-comp", "zstd"]);
      expect(mk.exitCode).toBe(0);
      const loop = attachLoop(join(dir, "img"));
      dev = loop.device;
      const name = dev.slice("/dev/".length);
      expect(readFileSync(`/sys/block/${name}/ro`, "utf8").trim()).toBe("1");
      expect(readFileSync(`/sys/block/${name}/loop/backing_file`, "utf8").trim()).toBe(join(dir, "img"));
      expect(readFileSync(`/sys/block/${name}/loop/autoclear`, "utf8").trim()).toBe("1");
      mkdirSync(join(dir, "mnt"));
      const m = Bun.spawnSync(["mount", "-t", "squashfs", "-o", "ro", dev, join(dir, "mnt")]);
      expect(m.stderr.toString()).toBe("");
      loop.release();
      expect(readFileSync(join(dir, "mnt/hello"), "utf8")).toBe("from squashfs");
      expect(Bun.spawnSync(["umount", join(dir, "mnt")]).exitCode).toBe(0);
      // Autoclear: with the mount gone and our handle released, the device is free again.
      expect(existsSync(`/sys/block/${name}/loop/backing_file`)).toBe(false);
      dev = "";
    } finally {
      if (dev) {
        Bun.spawnSync(["umount", join(dir, "mnt")]);
        try {
          detachLoop(dev);
        } catch {}
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test.skipIf(!canLoop)("a missing backing file is an error naming it", () => {
    expect(() => attachLoop("/nonexistent/img")).toThrow("/nonexistent/img");
  });
});
