import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { machineConfigJsonSchema } from "../../../core/config/jsonschema.ts";
import { edit, fixture } from "../../../core/config/testdata/fixtures.ts";

// The compiled binary that scripts/test.sh builds: what operators run.
const bin = resolve(import.meta.dir, "../../../out/bunker");
let dir: string;

beforeAll(() => {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run scripts/build.ts first`);
  dir = mkdtempSync(join(tmpdir(), "bunker-validate-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function ctl(args: string[], stdin?: string) {
  const r = Bun.spawnSync([bin, "bunkerctl", ...args], { cwd: dir, env: { PATH: "/usr/bin:/bin" }, stdin: stdin === undefined ? "ignore" : Buffer.from(stdin) });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

function file(name: string, text: string): string {
  writeFileSync(join(dir, name), text);
  return name;
}

const LINE = /^(\S+):(\d+):(\d+): (error|warning): (\S+): (.+)$/;

test("a valid config exits 0 and says so", () => {
  const r = ctl(["validate", "-f", file("cp.yaml", fixture("controlplane.yaml"))]);
  expect(r.code).toBe(0);
  expect(r.out.trim()).toBe("cp.yaml: valid for metal mode (0 errors, 0 warnings)");
});

test("an invalid config lists every problem as FILE:LINE:COL: error: PATH: message and exits 1", () => {
  let text = edit(fixture("controlplane.yaml"), "type: controlplane", "type: boss");
  text = edit(text, "hostname: node1", "hostname: -x");
  const r = ctl(["validate", "-f", file("bad.yaml", text)]);
  expect(r.code).toBe(1);
  const lines = r.out.trim().split("\n");
  expect(lines.at(-1)).toBe("bad.yaml: invalid (2 errors, 0 warnings)");
  const problems = lines.slice(0, -1);
  for (const l of problems) expect(l).toMatch(LINE);
  expect(problems.map((l) => LINE.exec(l)![5])).toEqual(["machine.type", "machine.network.hostname"]);
  expect(problems[0]).toBe(`bad.yaml:5:9: error: machine.type: expected one of controlplane, worker, found the string "boss"`);
});

test("warnings are listed too and do not fail the file", () => {
  const text = edit(fixture("controlplane.yaml"), "wipe: false", "wipe: true");
  const r = ctl(["validate", "-f", file("wipe.yaml", text)]);
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/^wipe\.yaml:\d+:\d+: warning: machine\.install\.wipe: /m);
  expect(r.out).toContain("valid for metal mode (0 errors, 1 warning)");
});

test("-o json gives the same problems as data", () => {
  const text = edit(fixture("worker.yaml"), "dhcp: true", "dhcp: yes");
  const r = ctl(["validate", "-f", file("w.yaml", text), "-o", "json"]);
  expect(r.code).toBe(1);
  const j = JSON.parse(r.out);
  expect(j).toMatchObject({ file: "w.yaml", mode: "metal", valid: false, warnings: [] });
  expect(j.errors).toHaveLength(1);
  expect(j.errors[0]).toMatchObject({ path: "machine.network.interfaces[0].dhcp", line: 11, column: 15 });
});

test("--mode changes what is required; - reads standard input", () => {
  const text = edit(fixture("worker.yaml"), "    diskSelector:\n      size: \">= 10GB\"\n      model: \"QEMU*\"\n", "    wipe: false\n");
  expect(ctl(["validate", "-f", "-"], text).code).toBe(1);
  const r = ctl(["validate", "-f", "-", "--mode", "container"], text);
  expect(r.code).toBe(0);
  expect(r.out).toContain("<stdin>: valid for container mode");
  expect(ctl(["validate", "-f", "-", "--mode=qemu"], text).code).toBe(1);
});

test("bad usage exits 2 and says why; a missing file exits 1", () => {
  for (const [args, why] of [[[], "-f FILE is required"], [["-f", "x", "--mode", "cloud"], "--mode must be one of metal, qemu, container"], [["-f", "x", "--strict"], 'unknown option "--strict"'], [["-f"], "needs a value"], [["x.yaml"], "unexpected argument"]] as const) {
    const r = ctl(["validate", ...args]);
    expect({ args, code: r.code }).toEqual({ args, code: 2 });
    expect(r.err).toContain(why);
  }
  const r = ctl(["validate", "-f", "nope.yaml"]);
  expect(r.code).toBe(1);
  expect(r.err).toContain("cannot read nope.yaml: ENOENT");
  const h = ctl(["validate", "--help"]);
  expect(h.code).toBe(0);
  expect(h.out).toContain("Usage: bunkerctl validate");
});

test("gen schema writes the JSON Schema to stdout or to a file", () => {
  const want = machineConfigJsonSchema();
  const r = ctl(["gen", "schema"]);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.out)).toEqual(want);
  const w = ctl(["gen", "schema", "-o", "schema.json"]);
  expect(w.code).toBe(0);
  expect(JSON.parse(readFileSync(join(dir, "schema.json"), "utf8"))).toEqual(want);
  expect(ctl(["gen", "schema", "extra"]).code).toBe(2);
  const bad = ctl(["gen", "schema", "-o", "no/such/dir/schema.json"]);
  expect(bad.code).toBe(1);
  expect(bad.err).toContain("cannot write no/such/dir/schema.json");
  // Written through a temp file and a rename: nothing else is left beside it.
  expect(readdirSync(dir).filter((n) => n.includes("schema"))).toEqual(["schema.json"]);
});
