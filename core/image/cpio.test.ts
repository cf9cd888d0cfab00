import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cpioOrder, listCpio, readCpioFile, writeCpio, type CpioEntry } from "./cpio.ts";

const entries: CpioEntry[] = [
  { path: "/usr/bin/tool", type: "file", mode: 0o755, data: Buffer.from("#tool\n") },
  { path: "etc/os-release", type: "file", data: Buffer.from("NAME=x\n") },
  { path: "usr/bin/alias", type: "symlink", target: "tool" },
  { path: "proc", type: "dir" },
  { path: "odd", type: "file", data: Buffer.from("abc") }, // length not a multiple of 4
];

describe("cpio newc writer", () => {
  test("GNU cpio extracts what we wrote, with modes, links and contents", () => {
    const dir = mkdtempSync(join(tmpdir(), "cpio-"));
    try {
      const archive = join(dir, "a.cpio");
      writeCpio(archive, entries);
      const x = join(dir, "x");
      const r = Bun.spawnSync(["sh", "-c", `mkdir -p ${x} && cd ${x} && cpio -idm --quiet < ${archive}`]);
      expect(r.stderr.toString()).toBe("");
      expect(r.exitCode).toBe(0);
      expect(readFileSync(join(x, "usr/bin/tool"), "utf8")).toBe("#tool\n");
      expect(statSync(join(x, "usr/bin/tool")).mode & 0o777).toBe(0o755);
      expect(readFileSync(join(x, "etc/os-release"), "utf8")).toBe("NAME=x\n");
      expect(readFileSync(join(x, "odd"), "utf8")).toBe("abc");
      expect(readlinkSync(join(x, "usr/bin/alias"))).toBe("tool");
      expect(statSync(join(x, "proc")).isDirectory()).toBe(true);
      // GNU cpio's own listing agrees on the names and their order.
      const list = Bun.spawnSync(["sh", "-c", `cpio -it --quiet < ${archive}`]).stdout.toString().trim().split("\n");
      expect(list).toEqual(listCpio(readFileSync(archive)).map((e) => e.path));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("sorted, parents added, root-owned, fixed mtime, byte-identical when repeated", () => {
    const dir = mkdtempSync(join(tmpdir(), "cpio-"));
    try {
      writeCpio(join(dir, "1"), entries, 1234);
      writeCpio(join(dir, "2"), [...entries].reverse(), 1234);
      const a = readFileSync(join(dir, "1"));
      expect(Buffer.compare(a, readFileSync(join(dir, "2")))).toBe(0);
      const listed = listCpio(a);
      expect(listed.map((e) => e.path)).toEqual(["etc", "etc/os-release", "odd", "proc", "usr", "usr/bin", "usr/bin/alias", "usr/bin/tool"]);
      for (const e of listed) {
        expect([e.uid, e.gid, e.mtime]).toEqual([0, 0, 1234]);
      }
      expect(Buffer.from(readCpioFile(a, "odd")!).toString()).toBe("abc");
      expect(readCpioFile(a, "missing")).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("reads file contents from a source path", () => {
    const dir = mkdtempSync(join(tmpdir(), "cpio-"));
    try {
      writeFileSync(join(dir, "src"), "from disk");
      writeCpio(join(dir, "a"), [{ path: "f", type: "file", source: join(dir, "src") }]);
      expect(Buffer.from(readCpioFile(readFileSync(join(dir, "a")), "f")!).toString()).toBe("from disk");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("rejects duplicates, '..' and files used as directories, naming the path", () => {
    expect(() => cpioOrder([{ path: "a", type: "dir" }, { path: "/a/", type: "dir" }])).toThrow("'a' is listed twice");
    expect(() => cpioOrder([{ path: "a/../b", type: "dir" }])).toThrow("contains '..'");
    expect(() => cpioOrder([{ path: "f", type: "file", data: new Uint8Array() }, { path: "f/g", type: "dir" }])).toThrow("'f' is not a directory");
  });
});
