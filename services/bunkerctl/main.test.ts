import { expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCtl } from "./testing.ts";

const dir = mkdtempSync(join(tmpdir(), "bunkerctl-main-"));
const missing = join(dir, "no-such-config");
const ctl = (...args: string[]) => runCtl(dir, { BUNKERCONFIG: missing, HOME: dir }, ...args);

test("global flags before the command reach it as they do after it (talosctl and kubectl order)", () => {
  const after = ctl("version", "-n", "10.5.0.2", "--bunkerconfig", missing);
  expect(after.code).toBe(3);
  for (const before of [
    ctl("-n", "10.5.0.2", "--bunkerconfig", missing, "version"),
    ctl("--nodes=10.5.0.2", `--bunkerconfig=${missing}`, "version"),
    ctl("-n10.5.0.2", "--bunkerconfig", missing, "version"),
    ctl("-n", "10.5.0.2", "version", "--bunkerconfig", missing),
  ]) expect(before).toEqual(after);
  // The value was parsed by the command: a bad one is its usage error.
  const bad = ctl("--timeout", "soon", "-e", "10.5.0.2", "version");
  expect(bad.code).toBe(2);
  expect(bad.err).toContain("--timeout soon");
  // -o before the command too.
  const json = ctl("-o", "json", "version", "--client");
  expect(json.code).toBe(0);
  expect(JSON.parse(json.out).version).toBeString();
});

test("an unknown command names itself and the nearest one, without the whole usage", () => {
  const typo = ctl("-n", "10.5.0.2", "verison");
  expect(typo.code).toBe(2);
  expect(typo.err).toContain('unknown command "verison"');
  expect(typo.err).toContain('did you mean "version"?');
  expect(typo.err).not.toContain("Commands:");
  expect(typo.err.split("\n").length).toBeLessThan(5);

  const sub = ctl("gen", "confg");
  expect(sub.code).toBe(2);
  expect(sub.err).toContain('unknown command "gen confg"');
  expect(sub.err).toContain('did you mean "gen config"?');

  // A group word alone (or with --help) still lists what it holds.
  const gen = ctl("gen", "--help");
  expect(gen.code).toBe(0);
  expect(gen.out).toContain("gen config");

  const nothing = ctl("frobnicate");
  expect(nothing.err).toContain('unknown command "frobnicate"');
  expect(nothing.err).not.toContain("did you mean");
  expect(nothing.err).not.toContain("Commands:");

  const flag = ctl("--frob", "version");
  expect(flag.code).toBe(2);
  expect(flag.err).toContain('"--frob"');
  expect(flag.err).not.toContain("Commands:");
});
