import { expect, test, beforeAll } from "bun:test";
import { mkdtempSync, symlinkSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { personalities, planned } from "./personalities.ts";

// These run the compiled binary that scripts/test.sh builds, because dispatch on argv[0] only
// means something for the real multi-call binary.
const bin = resolve(import.meta.dir, "../out/bunker");
let links: string;

beforeAll(() => {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run scripts/build.ts first`);
  links = mkdtempSync(join(tmpdir(), "bunker-links-"));
  for (const p of personalities) symlinkSync(bin, join(links, p.name));
});

function run(cmd: string, args: string[]) {
  const r = Bun.spawnSync([cmd, ...args], { env: { PATH: "/usr/bin:/bin" } });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

test("an unknown personality lists the valid ones and exits 1", () => {
  const r = run(bin, ["no-such-thing"]);
  expect(r.code).toBe(1);
  expect(r.err).toContain('unknown personality "no-such-thing"');
  for (const p of personalities) expect(r.err).toContain(p.name);
});

test("a planned personality says plainly that it is not built yet; with none planned the usage lists none", () => {
  const usage = run(bin, ["--help"]).out;
  expect(usage.includes("Not built yet")).toBe(planned.length > 0);
  for (const p of planned) {
    const r = run(bin, [p.name, "--help"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`bunker: ${p.name} (${p.summary}) is not built yet`);
  }
});

test("an unknown invoked name (argv[0]) is refused the same way", () => {
  const link = join(links, "frobnicate");
  symlinkSync(bin, link);
  const r = run(link, []);
  expect(r.code).toBe(1);
  expect(r.err).toContain('unknown personality "frobnicate"');
});

test("every personality answers --help with exit 0, by link and by `bunker NAME`", () => {
  for (const p of personalities) {
    const byLink = run(join(links, p.name), ["--help"]);
    expect({ name: p.name, code: byLink.code }).toEqual({ name: p.name, code: 0 });
    expect(byLink.out.toLowerCase()).toContain("usage");
    const byArg = run(bin, [p.name, "--help"]);
    expect(byArg.code).toBe(0);
    expect(byArg.out).toBe(byLink.out);
  }
});

test("bunker version names the version, commit, Bun version and build time", async () => {
  const r = run(bin, ["version", "-o", "json"]);
  expect(r.code).toBe(0);
  const info = JSON.parse(r.out);
  const pkg = await Bun.file(resolve(import.meta.dir, "../package.json")).json();
  expect(info.version).toBe(pkg.version);
  expect(info.bun).toBe(Bun.version);
  expect(info.commit).toMatch(/^([0-9a-f]{12}(-dirty)?|unknown)$/);
  expect(Number.isNaN(Date.parse(info.built))).toBe(false);
});
