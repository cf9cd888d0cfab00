/** The tar writer, read back by the system's tar (GNU tar or bsdtar): names, contents, modes, times. */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { tarArchive, tarEntry, TarNameError, type TarEntry } from "./tar.ts";

const dir = mkdtempSync(join(tmpdir(), "bunker-tar-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tar = (...args: string[]) => {
  const r = Bun.spawnSync(["tar", ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
};

const binary = new Uint8Array(1025).map((_, i) => (i * 37) & 0xff); // not a multiple of 512, every byte value
const longDir = "d".repeat(120);
const splitName = `${longDir}/${"f".repeat(90)}.log`; // over 100 bytes: ustar's prefix takes the directory
const paxName = `${"p".repeat(200)}/${"q".repeat(150)}.yaml`; // no split fits: a pax header carries it
const when = new Date("2026-01-02T03:04:05Z");

const entries: TarEntry[] = [
  { name: "node-a", type: "dir", mtime: when },
  { name: "node-a/version.yaml", data: "version: 0.1.0\n", mtime: when },
  { name: "node-a/empty", data: "" },
  { name: "node-a/bin", data: binary, mode: 0o600 },
  { name: "node-a/ünïcødé ✓.txt", data: "utf-8 name\n" },
  { name: splitName, data: "split\n" },
  { name: paxName, data: "pax\n" },
];

test("tar -tzf lists every entry; tar -xzf gives back the bytes, modes and times", () => {
  const file = join(dir, "a.tar.gz");
  writeFileSync(file, gzipSync(tarArchive(entries)));
  const listed = tar("-tzf", file);
  expect(listed.err).toBe("");
  expect(listed.code).toBe(0);
  expect(listed.out.trim().split("\n")).toEqual(["node-a/", ...entries.slice(1).map((e) => e.name)]);

  const out = join(dir, "x");
  Bun.spawnSync(["mkdir", out]);
  const x = tar("-xzf", file, "-C", out);
  expect({ code: x.code, err: x.err }).toEqual({ code: 0, err: "" });
  expect(readFileSync(join(out, "node-a/version.yaml"), "utf8")).toBe("version: 0.1.0\n");
  expect(readFileSync(join(out, "node-a/empty")).length).toBe(0);
  expect(new Uint8Array(readFileSync(join(out, "node-a/bin")))).toEqual(binary);
  expect(statSync(join(out, "node-a/bin")).mode & 0o777).toBe(0o600);
  expect(statSync(join(out, "node-a/version.yaml")).mtime.getTime()).toBe(when.getTime());
  expect(readFileSync(join(out, "node-a/ünïcødé ✓.txt"), "utf8")).toBe("utf-8 name\n");
  expect(readFileSync(join(out, splitName), "utf8")).toBe("split\n");
  expect(readFileSync(join(out, paxName), "utf8")).toBe("pax\n");
});

test("an uncompressed archive is whole blocks and ends with two zero blocks", () => {
  const a = tarArchive([{ name: "x", data: "1" }]);
  expect(a.length % 512).toBe(0);
  expect(a.length).toBe(512 + 512 + 1024);
  expect(a.subarray(a.length - 1024).every((b) => b === 0)).toBe(true);
  const file = join(dir, "b.tar");
  writeFileSync(file, a);
  expect(tar("-tf", file).out).toBe("x\n");
});

test("names that would escape the extraction folder are refused, naming the entry", () => {
  for (const name of ["/etc/passwd", "a/../../b", "..", "", "a\0b"]) {
    expect(() => tarEntry({ name, data: "" })).toThrow(TarNameError);
  }
  expect(() => tarEntry({ name: "a/../b", data: "" })).toThrow('tar entry "a/../b": ".." is not allowed');
});
