/**
 * Security (issue 10, finding 8): `gen config --config-patch` with a JSON patch path through
 * `/__proto__` or `/constructor/prototype`, or a merge patch with a `__proto__` key, reached
 * Object.prototype (inherited properties counted as present). Those tokens are now refused with
 * an error naming the patch and the token, and lookups only see own properties.
 */
import { afterEach, expect, test } from "bun:test";
import { applyJsonPatch, applyMergePatch, applyPatches, parsePatches, PatchError, type Json } from "../../core/configpatch/patch.ts";

const polluted = () => ({} as Record<string, unknown>).polluted;

afterEach(() => {
  // Keep a failure here from spilling into other tests.
  for (const o of [Object.prototype, Function.prototype]) delete (o as Record<string, unknown>).polluted;
});

const base = (): Json => ({ version: "v1alpha1", machine: { type: "worker" } });

test("a JSON patch through /__proto__ is refused and pollutes nothing", () => {
  for (const path of ["/__proto__/polluted", "/machine/__proto__/polluted", "/constructor/prototype/polluted", "/machine/constructor/prototype/polluted"]) {
    let error: unknown;
    try { applyPatches(base(), parsePatches(JSON.stringify([{ op: "add", path, value: true }]), "p.yaml")); } catch (e) { error = e; }
    expect({ path, polluted: polluted() }).toEqual({ path, polluted: undefined });
    expect(error).toBeInstanceOf(PatchError);
  }
});

test("the refusal names the patch, the operation and the token", () => {
  expect(() => parsePatches('[{op: add, path: /machine/__proto__/polluted, value: 1}]', "p.yaml"))
    .toThrow('patch p.yaml: operation 0: JSON pointer "/machine/__proto__/polluted": "__proto__" is not allowed as a key');
  expect(() => parsePatches('[{op: copy, from: /constructor, path: /x}]', "p.yaml"))
    .toThrow('patch p.yaml: operation 0: JSON pointer "/constructor": "constructor" is not allowed as a key');
});

test("applyJsonPatch refuses the tokens itself, whatever built the operations", () => {
  expect(() => applyJsonPatch(base(), [{ op: "add", path: "/__proto__/polluted", value: true }]))
    .toThrow('operation 0 (add /__proto__/polluted): JSON pointer "/__proto__/polluted": "__proto__" is not allowed as a key');
  expect(() => applyJsonPatch(base(), [{ op: "replace", path: "/constructor/prototype/polluted", value: true }])).toThrow(/"constructor" is not allowed as a key/);
  expect(polluted()).toBeUndefined();
});

test("inherited properties do not count as present: test, remove, replace and move see own keys only", () => {
  expect(() => applyJsonPatch(base(), [{ op: "remove", path: "/toString" }])).toThrow("operation 0 (remove /toString): /toString does not exist");
  expect(() => applyJsonPatch(base(), [{ op: "replace", path: "/hasOwnProperty", value: 1 }])).toThrow("/hasOwnProperty does not exist");
  expect(() => applyJsonPatch(base(), [{ op: "move", from: "/valueOf", path: "/x" }])).toThrow("/valueOf does not exist");
  expect(() => applyJsonPatch(base(), [{ op: "add", path: "/toString/x", value: 1 }])).toThrow("/toString does not exist");
});

test("a merge patch with a __proto__, constructor or prototype key is refused and pollutes nothing", () => {
  for (const text of ["__proto__: {polluted: true}", "machine: {__proto__: {polluted: true}}", '{"__proto__": {"polluted": true}}', "constructor: {prototype: {polluted: true}}", "machine: {prototype: 1}"]) {
    expect(() => applyPatches(base(), parsePatches(text, "m.yaml"))).toThrow(PatchError);
    expect(polluted()).toBeUndefined();
  }
  expect(() => parsePatches("machine: {__proto__: {polluted: true}}", "m.yaml")).toThrow('patch m.yaml: machine.__proto__: "__proto__" is not allowed as a key');
});

test("applyMergePatch refuses the tokens itself and never returns an object with a changed prototype", () => {
  const patch = JSON.parse('{"machine": {"__proto__": {"polluted": true}}}') as Json;
  expect(() => applyMergePatch(base(), patch)).toThrow('machine.__proto__: "__proto__" is not allowed as a key');
  expect(polluted()).toBeUndefined();
});

test("ordinary patches still apply", () => {
  const out = applyPatches(base(), [...parsePatches("machine: {network: {hostname: n1}}", "a"), ...parsePatches("[{op: add, path: /machine/install, value: {disk: /dev/sda}}]", "b")]);
  expect(out).toEqual({ version: "v1alpha1", machine: { type: "worker", network: { hostname: "n1" }, install: { disk: "/dev/sda" } } });
});

test("a client config (bunkerctl config merge FILE) cannot name a context __proto__ or point at an inherited one", async () => {
  const { parseClientConfig, mergeClientConfig } = await import("../../core/clientconfig/clientconfig.ts");
  const ctx = "{endpoints: [127.0.0.1:50000], nodes: [], ca: '', crt: '', key: ''}";
  expect(() => parseClientConfig(`context: __proto__\ncontexts: {__proto__: ${ctx}}\n`, "f")).toThrow('contexts.__proto__ (line 2:23): "__proto__" is not allowed as a context name');
  expect(() => parseClientConfig(`context: toString\ncontexts: {a: ${ctx}}\n`, "f")).toThrow('names context "toString", which is not among contexts (a)');
  const into = parseClientConfig(`context: a\ncontexts: {a: ${ctx}}\n`, "f");
  const m = mergeClientConfig(into, { context: "constructor", contexts: JSON.parse(`{"constructor": {"endpoints": ["h:1"], "nodes": [], "ca": "", "crt": "", "key": ""}}`) });
  expect(m.added).toEqual(["constructor"]);
  expect(Object.getPrototypeOf(m.config.contexts)).toBe(Object.prototype);
});

test("a machine config refuses __proto__, constructor and prototype keys at their line:column (a record would drop them silently)", async () => {
  const { loadConfig } = await import("../../core/config/config.ts");
  const { fixture } = await import("../../core/config/testdata/fixtures.ts");
  for (const key of ["__proto__", "constructor", "prototype"]) {
    const r = loadConfig(fixture("worker.yaml").replace("machine:\n", `machine:\n  sysctls:\n    ${key}: "1"\n`));
    expect(r.config).toBeUndefined();
    expect(r.errors.map((e) => `${e.line}:${e.column}: ${e.path}: ${e.message}`)).toContain(`5:5: machine.sysctls.${key}: "${key}" is not allowed as a key`);
  }
});
