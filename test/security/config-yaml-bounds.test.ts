/**
 * Security (issue 10, finding 3): a machine config arriving through the API is parsed by PID 1, so
 * a hostile YAML document must cost about what a real config costs. Before the fix, each alias
 * was resolved by walking the whole document (complex keys included, uncounted): a 1 MB dry-run
 * stalled init's API for over 15 s. Each document below is refused or parsed at once; the test
 * timeouts are generous bounds (the old loader took minutes on them), never tight wall-clock figures.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { loadConfig, MAX_CONFIG_BYTES } from "../../core/config/config.ts";
import { parseSource } from "../../core/config/source.ts";

/** Many aliases and one complex key with many items: each alias used to walk the whole key. */
export function aliasesOverComplexKey(aliases: number, keyItems: number): string {
  return `a: &a x\n? [${Array(keyItems).fill("1").join(",")}]\n: v\nb: [${Array(aliases).fill("*a").join(",")}]\n`;
}

/** The classic billion laughs: each level is a list of ten aliases to the level before. */
export function billionLaughs(levels: number): string {
  let s = "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (let i = 1; i <= levels; i++) s += `l${i}: &l${i} [${Array(10).fill(`*l${i - 1}`).join(", ")}]\n`;
  return s;
}

describe("hostile YAML is refused or parsed at once", () => {
  test("many aliases over a big complex key: one pass, the complex key refused at its line:column", () => {
    // Under the size cap: 40,000 aliases and a 40,000-item key (old loader: minutes).
    const text = aliasesOverComplexKey(40_000, 40_000);
    expect(text.length).toBeLessThan(MAX_CONFIG_BYTES);
    const src = parseSource(text);
    expect(src.errors.map((e) => `${e.line}:${e.column}: ${e.message}`)).toContain("2:3: expected a plain key, found a list or map used as a key");
    const r = loadConfig(text);
    expect(r.config).toBeUndefined();
  }, 10_000);

  test("an alias bomb is refused once it expands past the node limit", () => {
    const src = parseSource(billionLaughs(9));
    expect(src.fatal).toBe(true);
    expect(src.errors.some((e) => /expands to more than \d+ nodes/.test(e.message))).toBe(true);
  }, 10_000);

  test("many aliases to one big anchor: refused at the node limit", () => {
    const text = `a: &a [${Array(20_000).fill("1").join(",")}]\nb: [${Array(40_000).fill("*a").join(",")}]\n`;
    expect(text.length).toBeLessThan(MAX_CONFIG_BYTES);
    const src = parseSource(text);
    expect(src.fatal).toBe(true);
    expect(src.errors.some((e) => /expands to more than \d+ nodes/.test(e.message))).toBe(true);
  }, 10_000);

  test("an alias inside the node it names is refused, not followed", () => {
    const src = parseSource("a: &a\n  b: *a\n");
    expect(src.fatal).toBe(true);
    expect(src.errors.map((e) => `${e.line}:${e.column}: ${e.path}: ${e.message}`)).toEqual(["2:6: a.b: the alias *a names a node that contains it"]);
  });

  test("deep nesting is refused, flow and block", () => {
    const flow = "[".repeat(100_000) + "]".repeat(100_000);
    const src = parseSource(flow);
    expect(src.fatal).toBe(true);
    let block = "";
    for (let i = 0; i < 300; i++) block += " ".repeat(i) + `k${i}:\n`;
    const b = parseSource(block);
    expect(b.fatal).toBe(true);
    expect(b.errors.some((e) => /nesting deeper than \d+ levels/.test(e.message))).toBe(true);
  }, 10_000);

  test("a document full of syntax errors reports a bounded number of them", () => {
    const text = "a: b: c\n".repeat(20_000);
    const src = parseSource(text);
    expect(src.fatal).toBe(true);
    expect(src.errors.length).toBeLessThanOrEqual(101);
    expect(src.errors.at(-1)!.message).toMatch(/more problems not shown/);
  }, 10_000);

  test("a config over the size cap is refused before parsing, naming the cap", () => {
    const text = "version: v1alpha1\n#" + "x".repeat(MAX_CONFIG_BYTES) + "\n";
    const r = loadConfig(text);
    expect(r.config).toBeUndefined();
    expect(r.errors).toEqual([{ path: "(root)", line: 1, column: 1, message: `the config is ${Buffer.byteLength(text)} bytes, over the limit of ${MAX_CONFIG_BYTES} bytes (256 KiB)` }]);
  });

  test("a 2.5 MB document (under the 4 MiB transport limit) is refused at once", () => {
    const r = loadConfig(aliasesOverComplexKey(600_000, 600_000));
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]!.message).toMatch(/over the limit of \d+ bytes/);
  }, 10_000);
});

test("bunkerctl validate (the compiled binary) refuses a file over the cap with its size", () => {
  const dir = mkdtempSync(join(tmpdir(), "bunker-validate-cap-"));
  try {
    const file = join(dir, "big.yaml");
    writeFileSync(file, aliasesOverComplexKey(100_000, 100_000));
    const r = Bun.spawnSync([resolve(import.meta.dir, "../../out/bunker"), "bunkerctl", "validate", "-f", file], { stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode).not.toBe(0);
    expect(r.stdout.toString() + r.stderr.toString()).toContain(`${file}:1:1: error: (root): the config is 500021 bytes, over the limit of ${MAX_CONFIG_BYTES} bytes (256 KiB)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 30_000);
