/**
 * Reading small YAML files (secrets bundle, client config) with errors that name the file, the
 * path of the field and its line:column, and all problems at once rather than the first.
 */
import { LineCounter, parseDocument, type Document } from "yaml";

export interface Problem {
  /** Dotted path, e.g. "certs.os.key" or "contexts.demo.endpoints[1]". */
  path: string;
  line?: number;
  col?: number;
  message: string;
}

export class YamlFileError extends Error {
  constructor(readonly source: string, readonly problems: Problem[]) {
    super(`${source}: ${problems.length === 1 ? "1 problem" : `${problems.length} problems`}\n${problems.map((p) => `  ${formatProblem(p)}`).join("\n")}`);
    this.name = "YamlFileError";
  }
}

export function formatProblem(p: Problem): string {
  const at = p.line !== undefined ? ` (line ${p.line}:${p.col})` : "";
  return `${p.path || "(document)"}${at}: ${p.message}`;
}

export type Path = (string | number)[];

export const pathText = (path: Path): string =>
  path.reduce<string>((s, k) => (typeof k === "number" ? `${s}[${k}]` : s ? `${s}.${k}` : k), "");

/** A parsed document and the checks that record problems against its positions. */
export class YamlReader {
  readonly problems: Problem[] = [];
  private readonly doc: Document;
  private readonly lc = new LineCounter();
  readonly value: unknown;

  constructor(text: string, readonly source: string) {
    this.doc = parseDocument(text, { lineCounter: this.lc, prettyErrors: false, uniqueKeys: true });
    for (const e of this.doc.errors) {
      const pos = this.lc.linePos(e.pos[0]);
      this.problems.push({ path: "", line: pos.line, col: pos.col, message: e.message.split("\n")[0]! });
    }
    this.value = this.doc.errors.length ? undefined : this.doc.toJS();
  }

  /** Position of the node at path, or of its nearest ancestor that exists. */
  private position(path: Path): { line?: number; col?: number } {
    for (let n = path.length; n >= 0; n--) {
      const node = this.doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
      if (node && typeof node === "object" && node.range) {
        const p = this.lc.linePos(node.range[0]);
        return { line: p.line, col: p.col };
      }
    }
    return {};
  }

  fail(path: Path, message: string): undefined {
    this.problems.push({ path: pathText(path), ...this.position(path), message });
    return undefined;
  }

  get(path: Path): unknown {
    let v: unknown = this.value;
    for (const k of path) {
      if (v === null || typeof v !== "object") return undefined;
      v = (v as Record<string | number, unknown>)[k];
    }
    return v;
  }

  /** A mapping; unknown keys are problems (a typo must not be silently ignored). */
  map(path: Path, allowed: readonly string[], required = true): Record<string, unknown> | undefined {
    const v = this.get(path);
    if (v === undefined || v === null) return required ? this.fail(path, "missing (a mapping is required)") : undefined;
    if (typeof v !== "object" || Array.isArray(v)) return this.fail(path, `expected a mapping, found ${describe(v)}`);
    if (allowed.length) {
      for (const k of Object.keys(v)) if (!allowed.includes(k)) this.fail([...path, k], `unknown field; expected one of ${allowed.join(", ")}`);
    }
    return v as Record<string, unknown>;
  }

  string(path: Path, o: { pattern?: RegExp; expected?: string; required?: boolean } = {}): string | undefined {
    const v = this.get(path);
    if (v === undefined || v === null) return o.required === false ? undefined : this.fail(path, `missing (expected ${o.expected ?? "a string"})`);
    if (typeof v !== "string") return this.fail(path, `expected ${o.expected ?? "a string"}, found ${describe(v)}`);
    if (o.pattern && !o.pattern.test(v)) return this.fail(path, `expected ${o.expected ?? `a string matching ${o.pattern}`}, found ${JSON.stringify(v)}`);
    return v;
  }

  /** Base64 text, decoded; `bytes` demands an exact length. */
  base64(path: Path, o: { bytes?: number; required?: boolean } = {}): Uint8Array | undefined {
    const s = this.string(path, { expected: "base64 text", ...(o.required === false ? { required: false } : {}) });
    if (s === undefined) return undefined;
    const clean = s.replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 !== 0) return this.fail(path, "not valid base64");
    const b = new Uint8Array(Buffer.from(clean, "base64"));
    if (o.bytes !== undefined && b.length !== o.bytes) return this.fail(path, `expected ${o.bytes} bytes of base64, found ${b.length}`);
    return b;
  }

  stringList(path: Path, required = true): string[] | undefined {
    const v = this.get(path);
    if (v === undefined || v === null) return required ? this.fail(path, "missing (expected a list of strings)") : undefined;
    if (!Array.isArray(v)) return this.fail(path, `expected a list of strings, found ${describe(v)}`);
    const out: string[] = [];
    v.forEach((item, i) => (typeof item === "string" ? out.push(item) : this.fail([...path, i], `expected a string, found ${describe(item)}`)));
    return out;
  }

  /** Runs a check that may throw, recording its message against the path. */
  check<T>(path: Path, f: () => T): T | undefined {
    try {
      return f();
    } catch (e) {
      return this.fail(path, (e as Error).message);
    }
  }

  /** Throws a YamlFileError listing every problem found so far, if any. */
  done(): void {
    if (this.problems.length) throw new YamlFileError(this.source, this.problems);
  }
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return `${typeof v} ${JSON.stringify(v)}`;
}

