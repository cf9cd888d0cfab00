/**
 * The kernel configuration: the build's own check names options olddefconfig drops, the real
 * fragment passes it, and every kernel-hardening-checker FAIL is accepted with a reason.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { parseAccepted } from "./check.ts";

const here = import.meta.dir;
const haveSource = Bun.spawnSync(["sh", "-c", "ls /usr/src/linux-source-*.tar.xz"]).exitCode === 0;
const cache = join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "bunker");

describe("kernel configuration", () => {
  test("every fragment line is CONFIG_NAME=value with a reason", () => {
    const lines = readFileSync(join(here, "bunker.fragment"), "utf8").split("\n").filter((l) => l.startsWith("CONFIG_"));
    expect(lines.length).toBeGreaterThan(200);
    for (const l of lines) expect(l).toMatch(/^CONFIG_[A-Z0-9_]+=\S+ {2}# \S.*/);
    expect(lines).toContain(lines.find((l) => l.startsWith("CONFIG_MODULES=n"))!);
  });

  test("accepted-fails.txt: every entry has a reason", () => {
    const m = parseAccepted(readFileSync(join(here, "accepted-fails.txt"), "utf8"));
    expect(m.size).toBeGreaterThan(0);
    expect(() => parseAccepted("CONFIG_X\n")).toThrow("accepted-fails.txt:1: 'CONFIG_X' has no reason");
  });

  // Needs Debian's linux-source (scripts/deps.sh installs it); configuring takes about 15 s.
  test.skipIf(!haveSource)("the build fails naming an option olddefconfig dropped", () => {
    const dir = mkdtempSync(join(tmpdir(), "kfrag-"));
    try {
      // tinyconfig turns MISC_FILESYSTEMS off, so SQUASHFS cannot stick without it.
      writeFileSync(join(dir, "f"), "CONFIG_64BIT=y  # x\nCONFIG_BLOCK=y  # x\nCONFIG_SQUASHFS=y  # the root\n");
      const r = Bun.spawnSync(["bash", join(here, "build.sh"), "--config-only"], { env: { ...process.env, BUNKER_KERNEL_FRAGMENT: join(dir, "f") } });
      const err = r.stderr.toString();
      expect(r.exitCode).toBe(1);
      expect(err).toContain("olddefconfig did not keep 1 option(s)");
      expect(err).toContain("CONFIG_SQUASHFS: wanted y, got unset");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  // The checker is fetched once from Debian (fetch-checker.sh); without the cached copy this
  // test would need the network, so it runs only when the copy is there (`just kernel-check`).
  test.skipIf(!haveSource || !existsSync(join(cache, "khc")))("kernel-hardening-checker: no FAIL outside accepted-fails.txt", () => {
    const r = Bun.spawnSync([process.execPath, join(here, "check.ts")]);
    expect(r.stdout.toString()).toMatch(/kernel-check: \d+ OK, \d+ FAIL \(\d+ accepted\)/);
    expect(r.stdout.toString()).not.toContain("NOT ACCEPTED");
    expect(r.exitCode).toBe(0);
  }, 120_000);
});
