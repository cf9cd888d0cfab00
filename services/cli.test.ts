import { expect, test } from "bun:test";
import { resolve } from "node:path";

// From source, as `bunker NAME ARGS...`: through the link named "bun", which the dispatcher
// takes for the multi-call binary.
const main = resolve(import.meta.dir, "main.ts");
const bun = resolve(import.meta.dir, "../node_modules/.bin/bun");

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn([bun, main, ...args], { stdout: "pipe", stderr: "pipe", env: { ...process.env, BUNKERCONFIG: "/nonexistent" } });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}

// Every personality that takes flags, with the words that reach its parser.
const PROGRAMS: [string, string[]][] = [
  ["bunkerctl", ["bunkerctl", "version"]], ["bunkerctl", ["bunkerctl", "validate"]], ["diag links", ["diag", "links"]], ["partition", ["partition"]],
  ["networkd", ["networkd"]], ["trustd", ["trustd"]], ["init", ["init"]], ["apid", ["apid"]],
  ["verify-image", ["verify-image", "dir"]], ["reboot", ["reboot"]],
];

test("every personality parses with the one parser: an unknown flag is named, with the nearest one, in a few lines", async () => {
  const results = await Promise.all(PROGRAMS.map(([, words]) => run(...words, "--hel")));
  for (const [i, [name]] of PROGRAMS.entries()) {
    const r = results[i]!;
    expect({ name, code: r.code }).toEqual({ name, code: 2 });
    expect({ name, err: r.err }).toEqual({ name, err: expect.stringContaining('unknown option "--hel": did you mean "--help"?') });
    expect({ name, lines: r.err.trim().split("\n").length <= 4 }).toEqual({ name, lines: true });
  }
  const help = await Promise.all(PROGRAMS.map(([, words]) => run(...words, "--help")));
  for (const [i, [name]] of PROGRAMS.entries()) expect({ name, code: help[i]!.code, out: help[i]!.out.length > 0 }).toEqual({ name, code: 0, out: true });
}, 120_000);

test("a value missing or given to a switch is named the same way everywhere", async () => {
  const [trustd, part, verify] = await Promise.all([run("trustd", "--secrets"), run("partition", "show", "--wipe=yes"), run("verify-image", "dir", "--pubkey")]);
  expect(trustd.err).toContain("trustd: option --secrets needs a value");
  expect(part.err).toContain("partition: option --wipe takes no value");
  expect(verify.err).toContain("verify-image: option --pubkey needs a value");
  for (const r of [trustd, part, verify]) expect(r.code).toBe(2);
}, 60_000);

test("an unknown diag or partition command names itself and the nearest, without the whole usage", async () => {
  const [diag, part] = await Promise.all([run("diag", "lins"), run("partition", "shw")]);
  expect(diag.err).toContain('diag: unknown command "lins": did you mean "links"?');
  expect(part.err).toContain('partition: unknown command "shw": did you mean "show"?');
  for (const r of [diag, part]) {
    expect(r.code).toBe(2);
    expect(r.err).not.toContain("Commands:");
  }
}, 60_000);
