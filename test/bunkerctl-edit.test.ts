/**
 * `bunkerctl edit` and `bunkerctl patch` (issue 15) against a real node: the binary's init in
 * container mode with apid, booted from a `gen config` control-plane config. The editor is a
 * small shell script (a real process) that records what it was given (the file's mode, its
 * folder's, its text) and changes it as the test's plan says.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { generateSecrets, saveSecrets } from "../core/secrets/secrets.ts";
import { ContainerNode, ctl, freePort, TestCluster } from "./lib/remote-cluster.ts";

const secrets = generateSecrets();
const cluster = new TestCluster(secrets.os);
// When init runs as root, apid runs as uid 50: it must be able to reach the state directory.
chmodSync(cluster.dir, 0o711);
let endpoint = "";
let admin = "";
let reader = "";
let operator = "";
let node: ContainerNode;
const editor = join(cluster.dir, "editor.sh");

beforeAll(async () => {
  endpoint = `127.0.0.1:${await freePort()}`;
  const secretsFile = join(cluster.dir, "secrets.yaml");
  saveSecrets(secretsFile, secrets);
  const cfgDir = join(cluster.dir, "cfg");
  const gen = await ctl(undefined, "gen", "config", "demo", `https://${endpoint}`, "--with-secrets", secretsFile, "--output-dir", cfgDir);
  if (gen.code !== 0) throw new Error(`gen config: ${gen.err}`);
  admin = join(cfgDir, "bunkerconfig");
  expect((await ctl(admin, "config", "endpoint", endpoint)).code).toBe(0);
  expect((await ctl(admin, "config", "node", endpoint)).code).toBe(0);
  reader = cluster.config("reader", { client: cluster.client(["os:reader"]) }, [endpoint], [endpoint]);
  operator = cluster.config("operator", { client: cluster.client(["os:operator"]) }, [endpoint], [endpoint]);
  node = new ContainerNode(join(cluster.dir, "state"), endpoint, join(cfgDir, "controlplane.yaml"));
  node.start();
  // Pass n of the editor: record, then edit as $PLAN says (GNU sed; "\n" in a replacement is a newline).
  writeFileSync(editor, `#!/bin/sh
f="$1"; rec="$EDIT_RECORD"
n=$(cat "$rec/n" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$rec/n"
stat -c '%a' "$f" > "$rec/mode-$n"; stat -c '%a' "$(dirname "$f")" > "$rec/dirmode-$n"; echo "$f" > "$rec/path-$n"
cp "$f" "$rec/seen-$n"
sethost() {
  if grep -q '^    hostname: ' "$f"; then sed -i "s/^    hostname: .*/    hostname: $1/" "$f"
  else sed -i "s/^machine:\$/machine:\\n  network:\\n    hostname: $1/" "$f"; fi
}
case "$PLAN:$n" in
  good:1) sethost edited-one ;;
  bad:1) sed -i 's/^  type: controlplane$/  type: toaster/' "$f" ;;
  bad:2) sed -i 's/^  type: toaster$/  type: controlplane/' "$f"; sethost edited-two ;;
  empty:1) : > "$f" ;;
  *) ;;
esac
`, { mode: 0o700 });
  const h = await ctl(admin, "health", "--wait-timeout", "60s");
  expect(h.code).toBe(0);
}, 90_000);

afterAll(async () => {
  await node.stop();
  await cluster.close();
});

let runs = 0;
/** `bunkerctl edit mc ...` with the scripted editor; returns the result and the folder of its records. */
async function edit(plan: string, config: string, ...args: string[]) {
  const rec = join(cluster.dir, `rec-${++runs}`);
  await Bun.$`mkdir -p ${rec}`;
  const saved = { EDITOR: process.env.EDITOR, PLAN: process.env.PLAN, EDIT_RECORD: process.env.EDIT_RECORD };
  Object.assign(process.env, { EDITOR: editor, PLAN: plan, EDIT_RECORD: rec });
  try {
    return { ...(await ctl(config, "edit", "machineconfig", ...args)), rec, passes: () => Number(readFileSync(join(rec, "n"), "utf8")) };
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
}

async function hostname(): Promise<string> {
  const [v] = JSON.parse((await ctl(admin, "version", "-o", "json")).out);
  return v.hostname;
}

test("a good edit: the editor gets the node's config, secrets included, in a private file that is gone after; the change applies", async () => {
  const r = await edit("good", admin);
  expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: "" });
  expect(r.out).toContain(`${endpoint}: `);
  expect(r.out).toContain("machine.network");
  expect(r.passes()).toBe(1);
  expect(readFileSync(join(r.rec, "mode-1"), "utf8").trim()).toBe("600");
  expect(readFileSync(join(r.rec, "dirmode-1"), "utf8").trim()).toBe("700");
  const seen = readFileSync(join(r.rec, "seen-1"), "utf8");
  // The config as applied: its secrets (so a save keeps them) and the comments gen config wrote.
  expect(seen).toContain(parse(readFileSync(join(cluster.dir, "cfg", "controlplane.yaml"), "utf8")).machine.token);
  expect(seen).toStartWith("# bunkerctl edit: the machine config of ");
  expect(existsSync(readFileSync(join(r.rec, "path-1"), "utf8").trim())).toBe(false);
  expect(await hostname()).toBe("edited-one");
}, 60_000);

test("a bad edit brings the editor back with the node's errors at the top (lines of that file); the second pass fixes it", async () => {
  const r = await edit("bad", admin);
  expect({ code: r.code }).toEqual({ code: 0 });
  expect(r.passes()).toBe(2);
  expect(r.err).toContain("the node refused the config; back to the editor");
  const second = readFileSync(join(r.rec, "seen-2"), "utf8").split("\n");
  const at = second.indexOf("  type: toaster") + 1;
  expect(at).toBeGreaterThan(0);
  const errLine = second.find((l) => l.includes("error: machine.type"))!;
  expect(errLine).toStartWith(`# bunkerctl edit:   machineconfig.yaml:${at}:9: error: machine.type`);
  expect(second.findIndex((l) => !l.startsWith("# bunkerctl edit:"))).toBeLessThan(at);
  expect(await hostname()).toBe("edited-two");
  expect(existsSync(readFileSync(join(r.rec, "path-2"), "utf8").trim())).toBe(false);
}, 60_000);

test("saved unchanged or empty: nothing applied; --dry-run shows the diff and changes nothing", async () => {
  const same = await edit("unchanged", admin);
  expect(same.code).toBe(0);
  expect(same.err).toContain("edit cancelled: no changes; nothing applied");
  const empty = await edit("empty", admin);
  expect(empty.code).toBe(0);
  expect(empty.err).toContain("edit cancelled: the file was saved empty; nothing applied");
  const before = await hostname();
  const dry = await edit("good", admin, "--dry-run");
  expect(dry.code).toBe(0);
  expect(dry.out).toContain("dry run");
  expect(dry.out).toContain("+    hostname: edited-one");
  expect(await hostname()).toBe(before);
}, 60_000);

test("edit and patch are os:admin only: an operator and a reader are refused before any editor opens", async () => {
  for (const cfg of [reader, operator]) {
    const r = await edit("good", cfg);
    expect(r.code).toBe(5);
    expect(r.err).toContain("permission denied");
    expect(r.err).toContain("MachineConfiguration");
    expect(existsSync(join(r.rec, "n"))).toBe(false);
    const p = await ctl(cfg, "patch", "mc", "-p", '{"machine":{"network":{"hostname":"nope"}}}');
    expect(p.code).toBe(5);
    expect(p.err).toContain("permission denied");
  }
}, 60_000);

test("patch: a JSON merge patch inline and a JSON patch from @FILE; a patch that does not fit is refused by name", async () => {
  const merge = await ctl(admin, "patch", "mc", "-p", '{"machine":{"network":{"hostname":"patched-merge"}}}');
  expect({ code: merge.code, err: merge.err }).toEqual({ code: 0, err: "" });
  expect(await hostname()).toBe("patched-merge");
  const file = join(cluster.dir, "hostname.yaml");
  writeFileSync(file, "- op: replace\n  path: /machine/network/hostname\n  value: patched-json\n");
  const dry = await ctl(admin, "patch", "machineconfig", "v1alpha1", "-p", `@${file}`, "--dry-run");
  expect(dry.code).toBe(0);
  expect(dry.out).toContain("+    hostname: patched-json");
  expect(await hostname()).toBe("patched-merge");
  const json = await ctl(admin, "patch", "machineconfig", "v1alpha1", "-p", `@${file}`);
  expect({ code: json.code, err: json.err }).toEqual({ code: 0, err: "" });
  expect(await hostname()).toBe("patched-json");
  const miss = await ctl(admin, "patch", "mc", "-p", '[{"op":"remove","path":"/machine/nothere"}]');
  expect(miss.code).toBe(1);
  expect(miss.err).toContain("/machine/nothere does not exist");
  const bad = await ctl(admin, "patch", "mc", "-p", '{"machine":{"type":"toaster"}}');
  expect(bad.code).toBe(1);
  expect(bad.err).toContain("machine.type");
  const other = await ctl(admin, "patch", "services", "-p", "{}");
  expect(other.code).toBe(2);
  expect(other.err).toContain("only the machine config can be changed");
}, 60_000);
