import { afterAll, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runTool, toolCommand } from "./format.ts";

const dir = mkdtempSync(join(tmpdir(), "node-tools-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("a program the image carries under NODE_TOOLS/bin runs from there, with its libraries", () => {
  mkdirSync(join(dir, "bin"));
  const prog = join(dir, "bin", "mke2fs");
  // A stand-in that reports how it was run: the real one would need a device.
  writeFileSync(prog, "#!/bin/sh\necho \"$0 $LD_LIBRARY_PATH $*\"\n");
  chmodSync(prog, 0o755);
  const t = toolCommand(["mke2fs", "-q", "x"], dir);
  expect(t.cmd).toEqual([prog, "-q", "x"]);
  expect(t.env.LD_LIBRARY_PATH).toBe(join(dir, "lib"));
  expect(t.env.GCONV_PATH).toBe(join(dir, "gconv"));
  const r = Bun.spawnSync(t.cmd, { env: t.env });
  expect(r.stdout.toString().trim()).toBe(`${prog} ${join(dir, "lib")} -q x`);
});

test("elsewhere (a host) the program comes from PATH, with no library path", () => {
  const t = toolCommand(["mkfs.fat", "--help"], join(dir, "absent"));
  expect(t.cmd).toEqual(["mkfs.fat", "--help"]);
  expect(t.env.LD_LIBRARY_PATH).toBeUndefined();
  // An absolute path is never redirected.
  expect(toolCommand(["/usr/sbin/mke2fs"], dir).cmd).toEqual(["/usr/sbin/mke2fs"]);
});

test("runTool names the command and its output when it fails", () => {
  expect(() => runTool(["mke2fs", "-t", "ext4", join(dir, "no-such-file")])).toThrow(/mke2fs -t ext4 .*no-such-file failed \(exit \d+\)/);
});
