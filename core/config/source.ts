/**
 * YAML text -> a plain JS value plus the position of every node, so that each problem found later
 * can name its line:column. The yaml package parses; the conversion to JS is ours, because it
 * must not throw (unknown aliases, alias bombs, collection keys) and must see duplicate keys.
 *
 * Configs arrive through the API and are parsed by PID 1, so the work is linear in the text:
 * anchors are found in one walk of the document (the yaml package's Alias.resolve walks the whole
 * document for each alias), the expansion of aliases is counted and stops at MAX_NODES, nesting
 * stops at MAX_DEPTH, and at most MAX_PROBLEMS problems of the YAML itself are reported.
 */
import { Alias, LineCounter, parseAllDocuments, isAlias, isMap, isPair, isScalar, isSeq, type Document, type Node } from "yaml";
import { ROOT_PATH, formatPath, type PathSegment, type Problem } from "./problem.ts";

/** Bounds that keep a hostile file (deep nesting, alias bombs) from costing more than a real config. */
const MAX_DEPTH = 64;
const MAX_NODES = 20_000;
const MAX_PROBLEMS = 100;

/** Thrown inside the conversion once a bound is crossed: nothing after it is worth walking. */
class Bombed extends Error {}

interface Span {
  /** Offset of the key (map entries only). */
  key?: number;
  /** Offsets of the value node [start, end). */
  start: number;
  end: number;
  depth: number;
  /** Whether the value is empty or a block map or list: then its key is where to point. */
  pointAtKey: boolean;
}

export interface Position {
  line: number;
  column: number;
}

export interface Source {
  /** The document as plain JS; undefined when the file holds no document. */
  value: unknown;
  /** Problems of the YAML itself; `fatal` when its structure cannot be trusted (syntax errors). */
  errors: Problem[];
  warnings: Problem[];
  fatal: boolean;
  /**
   * Where the node at `path` is: its key when `at` is "key", else its value. A path that does not
   * exist (a missing key) resolves to its deepest existing ancestor.
   */
  locate(path: readonly PathSegment[], at?: "key" | "value"): Position;
  /** The source text of the value at `path`, if it exists (to see how a number was written). */
  textOf(path: readonly PathSegment[]): string | undefined;
}

export function parseSource(text: string): Source {
  const lc = new LineCounter();
  const spans = new Map<string, Span>();
  const errors: Problem[] = [];
  const warnings: Problem[] = [];
  const pos = (offset: number): Position => {
    const p = lc.linePos(Math.max(0, Math.min(offset, text.length)));
    return { line: Math.max(1, p.line), column: Math.max(1, p.col) };
  };
  // The most specific node whose value covers `offset`: names the path of a syntax error.
  const pathAt = (offset: number): string => {
    let best = ROOT_PATH, bestDepth = -1;
    for (const [path, s] of spans) {
      if (s.depth > bestDepth && ((s.key !== undefined && s.key <= offset) || s.start <= offset) && offset < Math.max(s.end, s.start + 1)) {
        best = path; bestDepth = s.depth;
      }
    }
    return best;
  };
  const at = (offset: number, path: string, message: string): Problem => ({ path, ...pos(offset), message: message });
  // A file of garbage can hold an error per line: past MAX_PROBLEMS, they are counted, not located.
  let dropped = 0;
  const report = (list: Problem[], make: () => Problem): void => {
    if (errors.length + warnings.length >= MAX_PROBLEMS) dropped++;
    else list.push(make());
  };

  let docs: Document.Parsed[];
  try {
    docs = parseAllDocuments(text, { lineCounter: lc, uniqueKeys: false, prettyErrors: false }) as Document.Parsed[];
    if (!Array.isArray(docs)) docs = [docs];
  } catch (e) {
    // The parser is not documented to throw; if it does, the file is still just invalid.
    errors.push(at(0, ROOT_PATH, `the YAML cannot be parsed: ${(e as Error).message}`));
    return finish(undefined, true);
  }

  function finish(value: unknown, fatal: boolean): Source {
    if (dropped) errors.push(at(text.length, ROOT_PATH, `${dropped} more problem${dropped === 1 ? "" : "s"} not shown`));
    return {
      value, errors, warnings, fatal,
      locate(path, which = "value") {
        for (let n = path.length; n >= 0; n--) {
          const s = spans.get(formatPath(path.slice(0, n)));
          if (!s) continue;
          // A missing child is reported at its parent's key: the line an operator would edit.
          const useKey = (n < path.length || which === "key" || s.pointAtKey) && s.key !== undefined;
          return pos(useKey ? s.key! : s.start);
        }
        return { line: 1, column: 1 };
      },
      textOf(path) {
        const s = spans.get(formatPath(path));
        return s ? text.slice(s.start, s.end) : undefined;
      },
    };
  }

  const doc = docs[0];
  if (!doc || doc.contents === null) {
    errors.push(at(0, ROOT_PATH, "the file holds no document: expected a map with version, machine and cluster"));
    return finish(undefined, true);
  }
  if (docs.length > 1) {
    const second = docs[1]!;
    errors.push(at(second.range?.[0] ?? 0, ROOT_PATH, `expected one YAML document, found ${docs.length} (a "---" line starts another)`));
  }

  // One walk in document order: each alias names the last anchor of its name before it (YAML
  // 1.2, as Alias.resolve does), or an open ancestor (a cycle).
  const targets = new Map<Alias, Node | "cycle" | undefined>();
  {
    const anchors = new Map<string, Node>();
    const open = new Set<Node>();
    const walk = (node: unknown, depth: number): void => {
      if (depth > MAX_DEPTH + 1 || node === null || typeof node !== "object") return;
      if (isPair(node)) {
        walk(node.key, depth);
        walk(node.value, depth);
        return;
      }
      if (isAlias(node)) {
        const t = anchors.get(node.source);
        targets.set(node, t && open.has(t) ? "cycle" : t);
        return;
      }
      const n = node as Node;
      if (n.anchor) anchors.set(n.anchor, n);
      if (isMap(n) || isSeq(n)) {
        open.add(n);
        for (const item of n.items) walk(item, depth + 1);
        open.delete(n);
      }
    };
    walk(doc.contents, 0);
  }

  let nodes = 0;
  let bombed = false;
  let broken = false;
  const toJS = (node: Node | null | undefined, path: PathSegment[], key: number | undefined, depth: number): unknown => {
    let n: unknown = node;
    const here = node?.range ?? [key ?? 0, key ?? 0];
    const block = (isMap(node) || isSeq(node)) && !node.flow;
    spans.set(formatPath(path), { key, start: here[0], end: here[1], depth, pointAtKey: block || node === null || node === undefined || (isScalar(node) && node.value === null) });
    if (++nodes > MAX_NODES || depth > MAX_DEPTH) {
      errors.push(at(here[0], formatPath(path), nodes > MAX_NODES ? `the document expands to more than ${MAX_NODES} nodes (aliases?)` : `nesting deeper than ${MAX_DEPTH} levels`));
      bombed = true;
      throw new Bombed();
    }
    if (isAlias(n)) {
      const target = targets.get(n as Alias);
      if (!target || target === "cycle") {
        const name = (n as Alias).source;
        report(errors, () => at(here[0], formatPath(path), target ? `the alias *${name} names a node that contains it` : `the alias *${name} names no anchor defined before it`));
        broken = true;
        return null;
      }
      n = target;
    }
    if (n === null || n === undefined) return null;
    if (isScalar(n)) return n.value;
    if (isSeq(n)) return n.items.map((item, i) => toJS(item as Node, [...path, i], undefined, depth + 1));
    if (isMap(n)) {
      const out: Record<string, unknown> = {};
      const firstAt = new Map<string, number>();
      for (const pair of n.items) {
        const k = pair.key as Node | null;
        const kOffset = k?.range?.[0] ?? here[0];
        const kv = isScalar(k) ? k.value : k === null ? null : undefined;
        if (kv === undefined || (typeof kv === "object" && kv !== null)) {
          report(errors, () => at(kOffset, formatPath(path), "expected a plain key, found a list or map used as a key"));
          continue;
        }
        const name = String(kv);
        const childPath = [...path, name];
        // No config key is named so; valibot's records drop them silently, and code that merges
        // configs could be led to Object.prototype by them.
        if (name === "__proto__" || name === "constructor" || name === "prototype") {
          report(errors, () => at(kOffset, formatPath(childPath), `"${name}" is not allowed as a key`));
          continue;
        }
        if (firstAt.has(name)) {
          const p = pos(firstAt.get(name)!);
          report(errors, () => at(kOffset, formatPath(childPath), `duplicate key "${name}" (first at line ${p.line}, column ${p.column}); the first one is used`));
          continue;
        }
        firstAt.set(name, kOffset);
        // defineProperty: a key named __proto__ stays an ordinary key.
        Object.defineProperty(out, name, { value: toJS(pair.value as Node | null, childPath, kOffset, depth + 1), enumerable: true, writable: true, configurable: true });
        if (pair.value === null) spans.set(formatPath(childPath), { key: kOffset, start: kOffset, end: kOffset + name.length, depth: depth + 1, pointAtKey: true });
      }
      return out;
    }
    return null;
  };
  let value: unknown;
  try {
    value = toJS(doc.contents as Node, [], undefined, 0);
  } catch (e) {
    if (!(e instanceof Bombed)) throw e;
    value = null;
  }

  let fatal = bombed || broken;
  for (const d of docs) {
    for (const e of d.errors) {
      const offset = e.pos[0];
      report(errors, () => at(offset, pathAt(offset), yamlMessage(e.code, e.message)));
      fatal = true;
    }
    for (const w of d.warnings) report(warnings, () => at(w.pos[0], pathAt(w.pos[0]), yamlMessage(w.code, w.message)));
  }
  return finish(value, fatal);
}

/** The yaml package's message, first line only, with a hint for the common mistakes. */
function yamlMessage(code: string, message: string): string {
  const first = message.split("\n")[0]!.replace(/ at line \d+, column \d+.*$/, "");
  if (code === "TAB_AS_INDENT") return `${first}: indent with spaces`;
  return `YAML syntax: ${first}`;
}
