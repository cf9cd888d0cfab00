import { expect, test } from "bun:test";
import { applyJsonPatch, applyMergePatch, applyPatches, loadPatchArg, parsePatches, type Json, type JsonPatchOp } from "./patch.ts";

test("JSON merge patch: the examples of RFC 7386 appendix A", () => {
  const cases: [Json, Json, Json][] = [
    [{ a: "b" }, { a: "c" }, { a: "c" }],
    [{ a: "b" }, { b: "c" }, { a: "b", b: "c" }],
    [{ a: "b" }, { a: null }, {}],
    [{ a: "b", b: "c" }, { a: null }, { b: "c" }],
    [{ a: ["b"] }, { a: "c" }, { a: "c" }],
    [{ a: "c" }, { a: ["b"] }, { a: ["b"] }],
    [{ a: { b: "c" } }, { a: { b: "d", c: null } }, { a: { b: "d" } }],
    [{ a: [{ b: "c" }] }, { a: [1] }, { a: [1] }],
    [["a", "b"], ["c", "d"], ["c", "d"]],
    [{ a: "b" }, ["c"], ["c"]],
    [{ a: "foo" }, null, null],
    [{ a: "foo" }, "bar", "bar"],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: "b", c: null }, { a: "b" }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  for (const [target, patch, result] of cases) {
    const before = structuredClone(target);
    expect({ target, patch, got: applyMergePatch(target, patch) }).toEqual({ target, patch, got: result });
    expect(target).toEqual(before); // the input is not modified
  }
});

test("JSON patch: the examples of RFC 6902 appendix A", () => {
  const cases: [Json, JsonPatchOp[], Json][] = [
    [{ foo: "bar" }, [{ op: "add", path: "/baz", value: "qux" }], { baz: "qux", foo: "bar" }],
    [{ foo: ["bar", "baz"] }, [{ op: "add", path: "/foo/1", value: "qux" }], { foo: ["bar", "qux", "baz"] }],
    [{ baz: "qux", foo: "bar" }, [{ op: "remove", path: "/baz" }], { foo: "bar" }],
    [{ foo: ["bar", "qux", "baz"] }, [{ op: "remove", path: "/foo/1" }], { foo: ["bar", "baz"] }],
    [{ baz: "qux", foo: "bar" }, [{ op: "replace", path: "/baz", value: "boo" }], { baz: "boo", foo: "bar" }],
    [{ foo: { bar: "baz", waldo: "fred" }, qux: { corge: "grault" } }, [{ op: "move", from: "/foo/waldo", path: "/qux/thud" }],
      { foo: { bar: "baz" }, qux: { corge: "grault", thud: "fred" } }],
    [{ foo: ["all", "grass", "cows", "eat"] }, [{ op: "move", from: "/foo/1", path: "/foo/3" }], { foo: ["all", "cows", "eat", "grass"] }],
    [{ foo: "bar" }, [{ op: "add", path: "/child", value: { grandchild: {} } }], { foo: "bar", child: { grandchild: {} } }],
    [{ foo: ["bar"] }, [{ op: "add", path: "/foo/-", value: ["abc", "def"] }], { foo: ["bar", ["abc", "def"]] }],
    [{ "/": 9, "~1": 10 }, [{ op: "test", path: "/~01", value: 10 }, { op: "add", path: "/a~1b", value: 1 }], { "/": 9, "~1": 10, "a/b": 1 }],
    [{ foo: null }, [{ op: "add", path: "/foo", value: 1 }, { op: "copy", from: "/foo", path: "/bar" }], { foo: 1, bar: 1 }],
    [{ baz: "qux", foo: ["a", 2, "c"] }, [{ op: "test", path: "/baz", value: "qux" }, { op: "test", path: "/foo/1", value: 2 }], { baz: "qux", foo: ["a", 2, "c"] }],
  ];
  for (const [target, ops, result] of cases) expect({ ops, got: applyJsonPatch(target, ops) }).toEqual({ ops, got: result });
});

test("JSON patch errors name the operation and leave the input untouched", () => {
  const doc: Json = { foo: "bar", list: [1] };
  const bad: [JsonPatchOp[], string][] = [
    [[{ op: "add", path: "/baz/bat", value: "qux" }], "operation 0 (add /baz/bat): /baz does not exist"],
    [[{ op: "add", path: "/x", value: 1 }, { op: "test", path: "/foo", value: "baz" }], 'operation 1 (test /foo): test failed: /foo is not "baz"'],
    [[{ op: "remove", path: "/nope" }], "operation 0 (remove /nope): /nope does not exist"],
    [[{ op: "replace", path: "/list/5", value: 0 }], "operation 0 (replace /list/5): /list/5: index 5 is out of range (length 1)"],
    [[{ op: "add", path: "/list/01", value: 0 }], 'operation 0 (add /list/01): /list/01: "01" is not an array index'],
    [[{ op: "move", from: "/list", path: "/list/0" }], "cannot move /list into its own child /list/0"],
  ];
  for (const [ops, msg] of bad) expect(() => applyJsonPatch(doc, ops)).toThrow(msg);
  expect(doc).toEqual({ foo: "bar", list: [1] });
});

test("patch text: YAML or JSON, mapping = merge, list = JSON patch, several documents in order", () => {
  const json = parsePatches('[{"op":"replace","path":"/machine/install/disk","value":"/dev/vda"}]', "p");
  expect(json).toEqual([{ kind: "json", ops: [{ op: "replace", path: "/machine/install/disk", value: "/dev/vda" }], source: "p" }]);
  const multi = parsePatches("machine:\n  certSANs: [a.example]\n---\n- op: add\n  path: /machine/certSANs/-\n  value: b.example\n", "m");
  expect(multi.map((p) => p.kind)).toEqual(["merge", "json"]);
  const base: Json = { machine: { certSANs: ["x"], install: { disk: "/dev/sda" } } };
  expect(applyPatches(base, multi)).toEqual({ machine: { certSANs: ["a.example", "b.example"], install: { disk: "/dev/sda" } } });
});

test("bad patches are refused with their source named", () => {
  expect(() => parsePatches("[{op: frob, path: /a}]", "x.yaml")).toThrow('patch x.yaml: operation 0: "op" must be one of add, remove, replace, move, copy, test, found "frob"');
  expect(() => parsePatches("- {op: add, path: /a}", "x.yaml")).toThrow('operation 0: add needs "value"');
  expect(() => parsePatches("- {op: copy, path: /a}", "x.yaml")).toThrow('copy needs "from"');
  expect(() => parsePatches("- {op: remove, path: a}", "x.yaml")).toThrow('must start with "/"');
  expect(() => parsePatches("42", "x.yaml")).toThrow("found number");
  expect(() => parsePatches("", "x.yaml")).toThrow("patch x.yaml: is empty");
  expect(() => parsePatches("a: [", "x.yaml")).toThrow("patch x.yaml: not valid YAML or JSON");
  expect(() => applyPatches({}, parsePatches("- {op: remove, path: /machine}", "rm.yaml"))).toThrow("patch rm.yaml: operation 0 (remove /machine): /machine does not exist");
});

test("@file reads the patch from a file; anything else is inline", () => {
  const files: Record<string, string> = { "cp.yaml": "machine: {type: worker}" };
  const read = (p: string) => {
    const t = files[p];
    if (t === undefined) throw Object.assign(new Error("no"), { code: "ENOENT" });
    return t;
  };
  expect(loadPatchArg("@cp.yaml", read)).toEqual([{ kind: "merge", patch: { machine: { type: "worker" } }, source: "cp.yaml" }]);
  expect(loadPatchArg('{"debug": true}', read)).toEqual([{ kind: "merge", patch: { debug: true }, source: "(inline)" }]);
  expect(() => loadPatchArg("@missing.yaml", read)).toThrow("patch missing.yaml: cannot read it: ENOENT");
});
