/**
 * Config patches as operators write them for `gen config --config-patch`: a JSON merge patch
 * (RFC 7386: a mapping, null deletes) or a JSON patch (RFC 6902: a list of operations), written
 * in YAML or JSON, given inline or as @file. Patches act on plain data; they never see comments.
 */
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { formatPath, type PathSegment } from "../config/problem.ts";

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface JsonPatchOp {
  op: "add" | "remove" | "replace" | "move" | "copy" | "test";
  path: string;
  value?: Json;
  from?: string;
}

export type Patch = { kind: "merge"; patch: Json; source: string } | { kind: "json"; ops: JsonPatchOp[]; source: string };

export class PatchError extends Error {
  constructor(readonly source: string, message: string) {
    super(`patch ${source}: ${message}`);
    this.name = "PatchError";
  }
}

const isObject = (v: unknown): v is { [k: string]: Json } => typeof v === "object" && v !== null && !Array.isArray(v);
const clone = <T>(v: T): T => structuredClone(v);
/** Own keys only: an inherited property (toString, __proto__) is never part of a config. */
const has = (o: object, k: string): boolean => Object.hasOwn(o, k);

/**
 * Keys that lead from a plain object to Object.prototype (or reshape one): a patch naming them
 * could pollute every object of the process. No config key is named so; they are refused.
 */
const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);
const forbidden = (key: string) => `${JSON.stringify(key)} is not allowed as a key`;

/** Throws when a key anywhere inside `v` is one of FORBIDDEN_KEYS, naming its path. */
function checkKeys(v: unknown, path: PathSegment[]): void {
  if (Array.isArray(v)) v.forEach((x, i) => checkKeys(x, [...path, i]));
  else if (isObject(v)) {
    for (const [k, x] of Object.entries(v)) {
      if (FORBIDDEN_KEYS.has(k)) throw new Error(`${formatPath([...path, k])}: ${forbidden(k)}`);
      checkKeys(x, [...path, k]);
    }
  }
}

/** RFC 7386: objects merge key by key, null removes a key, anything else replaces. */
export function applyMergePatch(target: Json, patch: Json): Json {
  checkKeys(patch, []);
  return merge(target, patch);
}

function merge(target: Json, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  const out: { [k: string]: Json } = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = merge(has(out, k) ? out[k]! : null, v);
  }
  return out;
}

/** RFC 6901 JSON pointer into tokens ("" is the whole document); FORBIDDEN_KEYS are refused. */
export function parsePointer(pointer: string): string[] {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) throw new Error(`JSON pointer ${JSON.stringify(pointer)} must start with "/"`);
  const tokens = pointer.slice(1).split("/").map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
  const bad = tokens.find((t) => FORBIDDEN_KEYS.has(t));
  if (bad !== undefined) throw new Error(`JSON pointer ${JSON.stringify(pointer)}: ${forbidden(bad)}`);
  return tokens;
}

function arrayIndex(arr: Json[], token: string, forAdd: boolean, pointer: string): number {
  if (forAdd && token === "-") return arr.length;
  if (!/^(0|[1-9]\d*)$/.test(token)) throw new Error(`${pointer}: "${token}" is not an array index`);
  const i = Number(token);
  if (i > arr.length || (!forAdd && i === arr.length)) throw new Error(`${pointer}: index ${i} is out of range (length ${arr.length})`);
  return i;
}

/** The container holding the pointer's last token, and that token. */
function locate(doc: Json, pointer: string): { parent: Json[] | { [k: string]: Json }; key: string } {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) throw new Error("the root itself cannot be the target of this operation");
  let cur: Json = doc;
  for (const [n, t] of tokens.slice(0, -1).entries()) {
    const here = "/" + tokens.slice(0, n + 1).join("/");
    if (Array.isArray(cur)) cur = cur[arrayIndex(cur, t, false, here)]!;
    else if (isObject(cur)) {
      if (!has(cur, t)) throw new Error(`${here} does not exist`);
      cur = cur[t]!;
    } else throw new Error(`${here} is inside a ${cur === null ? "null" : typeof cur}, not a mapping or list`);
  }
  if (!Array.isArray(cur) && !isObject(cur)) throw new Error(`${pointer}: the parent is not a mapping or list`);
  return { parent: cur, key: tokens[tokens.length - 1]! };
}

function getAt(doc: Json, pointer: string): Json {
  if (pointer === "") return doc;
  const { parent, key } = locate(doc, pointer);
  if (Array.isArray(parent)) return parent[arrayIndex(parent, key, false, pointer)]!;
  if (!has(parent, key)) throw new Error(`${pointer} does not exist`);
  return parent[key]!;
}

function addAt(doc: Json, pointer: string, value: Json): Json {
  if (pointer === "") return value;
  const { parent, key } = locate(doc, pointer);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, true, pointer), 0, value);
  else parent[key] = value;
  return doc;
}

function removeAt(doc: Json, pointer: string): Json {
  const { parent, key } = locate(doc, pointer);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, false, pointer), 1);
  else {
    if (!has(parent, key)) throw new Error(`${pointer} does not exist`);
    delete parent[key];
  }
  return doc;
}

const deepEqual = (a: Json, b: Json): boolean => {
  if (Array.isArray(a) || Array.isArray(b)) return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]!));
  if (isObject(a) || isObject(b)) {
    if (!isObject(a) || !isObject(b)) return false;
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => has(b, k) && deepEqual(a[k]!, b[k]!));
  }
  return a === b;
};

/** RFC 6902, all or nothing: a failing operation leaves the input untouched. */
export function applyJsonPatch(target: Json, ops: readonly JsonPatchOp[]): Json {
  let doc = clone(target);
  ops.forEach((op, i) => {
    try {
      // Checked here too: operations may come from elsewhere than parsePatches.
      for (const p of [op.path, ...(op.from === undefined ? [] : [op.from])]) parsePointer(p);
      if (has(op, "value")) checkKeys(op.value, ["value"]);
      switch (op.op) {
        case "add":
          doc = addAt(doc, op.path, clone(op.value!));
          break;
        case "remove":
          doc = removeAt(doc, op.path);
          break;
        case "replace":
          getAt(doc, op.path); // must exist
          doc = op.path === "" ? clone(op.value!) : addAt(removeAt(doc, op.path), op.path, clone(op.value!));
          break;
        case "move": {
          if (op.path.startsWith(op.from! + "/")) throw new Error(`cannot move ${op.from} into its own child ${op.path}`);
          const v = getAt(doc, op.from!);
          doc = addAt(removeAt(doc, op.from!), op.path, v);
          break;
        }
        case "copy":
          doc = addAt(doc, op.path, clone(getAt(doc, op.from!)));
          break;
        case "test":
          if (!deepEqual(getAt(doc, op.path), op.value!)) throw new Error(`test failed: ${op.path} is not ${JSON.stringify(op.value)}`);
          break;
      }
    } catch (e) {
      throw new Error(`operation ${i} (${op.op} ${op.path}): ${(e as Error).message}`);
    }
  });
  return doc;
}

const OPS = new Set(["add", "remove", "replace", "move", "copy", "test"]);

function checkOps(list: unknown[], source: string): JsonPatchOp[] {
  return list.map((raw, i) => {
    if (!isObject(raw)) throw new PatchError(source, `operation ${i} is not a mapping`);
    const { op, path, from } = raw as Record<string, unknown>;
    if (typeof op !== "string" || !OPS.has(op)) throw new PatchError(source, `operation ${i}: "op" must be one of ${[...OPS].join(", ")}, found ${JSON.stringify(op)}`);
    if (typeof path !== "string") throw new PatchError(source, `operation ${i}: "path" must be a string JSON pointer`);
    if ((op === "move" || op === "copy") && typeof from !== "string") throw new PatchError(source, `operation ${i}: ${op} needs "from"`);
    if ((op === "add" || op === "replace" || op === "test") && !has(raw, "value")) throw new PatchError(source, `operation ${i}: ${op} needs "value"`);
    try {
      for (const p of [path, ...(typeof from === "string" ? [from] : [])]) parsePointer(p);
      if (has(raw, "value")) checkKeys(raw.value, ["value"]);
    } catch (e) {
      throw new PatchError(source, `operation ${i}: ${(e as Error).message}`);
    }
    return raw as unknown as JsonPatchOp;
  });
}

/**
 * Parses patch text (YAML or JSON; JSON is YAML). Several YAML documents separated by --- give
 * several patches, applied in order. A list is a JSON patch; a mapping is a merge patch.
 */
export function parsePatches(text: string, source: string): Patch[] {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) throw new PatchError(source, "not YAML or JSON");
  const out: Patch[] = [];
  for (const d of docs) {
    if (d.errors.length) throw new PatchError(source, `not valid YAML or JSON: ${d.errors[0]!.message.split("\n")[0]}`);
    const v = d.toJS() as unknown;
    if (v === null || v === undefined) continue;
    if (Array.isArray(v)) out.push({ kind: "json", ops: checkOps(v, source), source });
    else if (isObject(v)) {
      try {
        checkKeys(v, []);
      } catch (e) {
        throw new PatchError(source, (e as Error).message);
      }
      out.push({ kind: "merge", patch: v, source });
    }
    else throw new PatchError(source, `a patch is a mapping (merge patch) or a list of operations (JSON patch), found ${typeof v}`);
  }
  if (out.length === 0) throw new PatchError(source, "is empty");
  return out;
}

/** Reads a command-line patch argument: "@path" reads the file, anything else is the patch itself. */
export function loadPatchArg(arg: string, read: (path: string) => string = (p) => readFileSync(p, "utf8")): Patch[] {
  if (arg.startsWith("@")) {
    const path = arg.slice(1);
    let text: string;
    try {
      text = read(path);
    } catch (e) {
      throw new PatchError(path, `cannot read it: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    return parsePatches(text, path);
  }
  return parsePatches(arg, "(inline)");
}

export function applyPatches(target: Json, patches: readonly Patch[]): Json {
  let doc = target;
  for (const p of patches) {
    try {
      doc = p.kind === "merge" ? applyMergePatch(doc, p.patch) : applyJsonPatch(doc, p.ops);
    } catch (e) {
      if (e instanceof PatchError) throw e;
      throw new PatchError(p.source, (e as Error).message);
    }
  }
  return doc;
}
