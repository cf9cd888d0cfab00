import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  addContext, currentContext, defaultClientConfigPath, loadClientConfig, mergeClientConfig, parseClientConfig, removeContext, saveClientConfig, setContextList, useContext,
  type ClientConfig, type ClientContext,
} from "./clientconfig.ts";

const dir = mkdtempSync(join(tmpdir(), "bunker-clientconfig-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ctx = (ep: string, key = "a2V5"): ClientContext => ({ endpoints: [ep], nodes: [ep], ca: "Y2E=", crt: "Y3J0", key });
const demo: ClientConfig = { context: "demo", contexts: { demo: ctx("10.5.0.2") } };

test("the path: $BUNKERCONFIG, else ~/.bunker/config", () => {
  expect(defaultClientConfigPath({ BUNKERCONFIG: "/x/cfg" }, "/home/u")).toBe("/x/cfg");
  expect(defaultClientConfigPath({ BUNKERCONFIG: "" }, "/home/u")).toBe("/home/u/.bunker/config");
  expect(defaultClientConfigPath({}, "/home/u")).toBe("/home/u/.bunker/config");
});

test("save creates the directory, writes 0600, and load reads it back", () => {
  const p = join(dir, "nested", "config");
  saveClientConfig(p, demo);
  expect(statSync(p).mode & 0o777).toBe(0o600);
  expect(statSync(join(dir, "nested")).mode & 0o777).toBe(0o700);
  expect(loadClientConfig(p)).toEqual(demo);
  expect(readFileSync(p, "utf8")).toContain("context: demo\ncontexts:\n  demo:\n    endpoints:\n      - 10.5.0.2\n");
});

test("a missing file is empty only when allowed", () => {
  expect(loadClientConfig(join(dir, "none"), { allowMissing: true })).toEqual({ context: "", contexts: {} });
  expect(() => loadClientConfig(join(dir, "none"))).toThrow(/cannot read client config .*none: ENOENT/);
});

test("context, endpoint and node edits act on the current context", () => {
  const two: ClientConfig = { context: "demo", contexts: { demo: ctx("10.5.0.2"), lab: ctx("192.0.2.1") } };
  const switched = useContext(two, "lab");
  expect(currentContext(switched).name).toBe("lab");
  expect(() => useContext(two, "nope")).toThrow('no context "nope"; known: demo, lab');
  const edited = setContextList(switched, "endpoints", ["192.0.2.1", "192.0.2.2"]);
  expect(edited.contexts.lab!.endpoints).toEqual(["192.0.2.1", "192.0.2.2"]);
  expect(edited.contexts.demo).toEqual(two.contexts.demo!);
  expect(setContextList(edited, "nodes", ["192.0.2.9"]).contexts.lab!.nodes).toEqual(["192.0.2.9"]);
  expect(() => setContextList({ context: "", contexts: {} }, "nodes", ["x"])).toThrow(/no contexts/);
});

test("merge: new names are added, equal contexts skipped, conflicts renamed NAME-1, NAME-2", () => {
  const base: ClientConfig = { context: "demo", contexts: { demo: ctx("10.5.0.2"), lab: ctx("192.0.2.1") } };
  const same = mergeClientConfig(base, { context: "demo", contexts: { demo: ctx("10.5.0.2") } });
  expect(same.added).toEqual([]);
  expect(same.config).toEqual(base);

  const other = { context: "demo", contexts: { demo: ctx("10.9.0.2", "b3RoZXI="), fresh: ctx("10.7.0.1") } };
  const m1 = mergeClientConfig(base, other);
  expect(m1.renamed).toEqual({ demo: "demo-1" });
  expect(m1.added).toEqual(["demo-1", "fresh"]);
  expect(m1.config.context).toBe("demo-1");
  expect(m1.config.contexts.demo).toEqual(base.contexts.demo!); // never overwritten
  expect(m1.config.contexts["demo-1"]!.endpoints).toEqual(["10.9.0.2"]);

  // merging the same file twice does not pile up copies; a third cluster named demo gets demo-2
  const m2 = mergeClientConfig(m1.config, other);
  expect(m2.added).toEqual([]);
  expect(m2.config.context).toBe("demo-1");
  const m3 = mergeClientConfig(m2.config, { context: "demo", contexts: { demo: ctx("10.10.0.1", "dGhpcmQ=") } });
  expect(m3.renamed).toEqual({ demo: "demo-2" });
  expect(Object.keys(m3.config.contexts).sort()).toEqual(["demo", "demo-1", "demo-2", "fresh", "lab"]);
});

test("bad files are refused with the path and line:column of each problem", () => {
  const text = "context: gone\ncontexts:\n  demo:\n    endpoints: 10.5.0.2\n    ca: '***'\n    extra: 1\n";
  let msg = "";
  try {
    parseClientConfig(text, "cfg");
  } catch (e) {
    msg = (e as Error).message;
  }
  expect(msg).toContain("cfg: 4 problems");
  expect(msg).toContain("contexts.demo.endpoints (line 4:16): expected a list of strings");
  expect(msg).toContain("contexts.demo.ca (line 5:9): not valid base64");
  expect(msg).toContain("contexts.demo.extra (line 6:12): unknown field");
  expect(msg).toContain('context (line 1:10): names context "gone"');
});

test("addContext: a new name is added (current when none is), a taken one only with replace; removeContext", () => {
  const empty: ClientConfig = { context: "", contexts: {} };
  const one = addContext(empty, "prod", ctx("10.5.0.2"));
  expect(one).toEqual({ context: "prod", contexts: { prod: ctx("10.5.0.2") } });
  const two = addContext(one, "lab", ctx("192.0.2.1"));
  expect(two.context).toBe("prod");
  expect(() => addContext(two, "lab", ctx("192.0.2.9"))).toThrow('context "lab" already exists: choose another name, or replace it with --force');
  expect(addContext(two, "lab", ctx("192.0.2.9"), { replace: true }).contexts.lab!.endpoints).toEqual(["192.0.2.9"]);
  for (const bad of ["__proto__", "constructor", "", "-x", "a b", "a/b", "x".repeat(64)]) expect(() => addContext(two, bad, ctx("1.2.3.4"))).toThrow(/context name|not allowed/);
  expect(removeContext(two, "lab")).toEqual(one);
  expect(removeContext(two, "prod")).toEqual({ context: "", contexts: { lab: ctx("192.0.2.1") } });
  expect(() => removeContext(two, "nope")).toThrow('no context "nope"; known: prod, lab');
});
