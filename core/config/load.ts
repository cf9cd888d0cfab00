/**
 * loadConfig: YAML text -> a validated MachineConfig with defaults and its parsed view, or every
 * problem at once, each with its YAML path and line:column.
 */
import * as v from "valibot";
import { MachineConfigSchema, type MachineConfig } from "./schema.ts";
import { parseSource, type Source } from "./source.ts";
import { ROOT_PATH, formatPath, sortProblems, type PathSegment, type Problem } from "./problem.ts";
import { checkSemantics, type Mode } from "./semantic.ts";
import { parseConfig, type ParsedConfig } from "./parsed.ts";
import { child, describeType, schemaAt, unwrap, type AnySchema } from "./schemawalk.ts";
import { closest } from "./suggest.ts";
import { fieldReference } from "./reference.ts";

export interface LoadOptions {
  /** What the node runs on; decides what is required. Default "metal". */
  mode?: Mode;
}

export interface LoadResult {
  /** Present when there is no error: the operator's values, text as written, defaults in. */
  config?: MachineConfig;
  /** Present with `config`: its values as consumers take them (parsed.ts), made here once. */
  parsed?: ParsedConfig;
  errors: Problem[];
  warnings: Problem[];
}

const root = MachineConfigSchema as unknown as AnySchema;

/**
 * The largest config accepted, in bytes of UTF-8. Real configs are a few KiB (the controlplane
 * sample with its PEM blocks is under 4 KiB; a node with many interfaces, routes and sysctls stays
 * well under 64 KiB). 256 KiB leaves room for that many times over while keeping the worst case a
 * hostile document can cost PID 1 small (bench/results/config.md), far below the 4 MiB a gRPC
 * message may carry.
 */
export const MAX_CONFIG_BYTES = 256 * 1024;

/** The refusal of a config over MAX_CONFIG_BYTES, as every entry point words it. */
export function oversizeMessage(bytes: number): string {
  return `the config is ${bytes} bytes, over the limit of ${MAX_CONFIG_BYTES} bytes (${MAX_CONFIG_BYTES / 1024} KiB)`;
}

export function loadConfig(text: string, options: LoadOptions = {}): LoadResult {
  const mode = options.mode ?? "metal";
  // Cheap first test: UTF-8 takes at least one byte per UTF-16 unit and at most three.
  const bytes = text.length * 3 > MAX_CONFIG_BYTES ? Buffer.byteLength(text, "utf8") : text.length;
  if (bytes > MAX_CONFIG_BYTES) return { errors: [{ path: ROOT_PATH, line: 1, column: 1, message: oversizeMessage(bytes) }], warnings: [] };
  const src = parseSource(text);
  const errors = [...src.errors];
  const warnings = [...src.warnings];
  if (src.fatal || src.value === undefined) return { errors: sortProblems(errors), warnings: sortProblems(warnings) };

  const problem = (path: PathSegment[], message: string, at: "key" | "value" = "value"): Problem => ({ path: formatPath(path), ...src.locate(path, at), message });
  // valibot takes a JS array for an object (arrays are objects): a list where a map belongs is
  // found here, and what valibot says beneath it is noise.
  const listsForMaps: string[] = [];
  findListsForMaps(root, src.value, [], (path) => {
    listsForMaps.push(formatPath(path));
    errors.push(problem(path, "expected a map, found a list"));
  });
  const beneath = (path: string) => listsForMaps.some((l) => path === l || path.startsWith(l + ".") || path.startsWith(l + "[") || l === ROOT_PATH);
  const parsed = v.safeParse(MachineConfigSchema, src.value, { abortEarly: false, abortPipeEarly: false });
  if (!parsed.success || listsForMaps.length > 0) {
    for (const issue of parsed.issues ?? []) {
      const p = issueToProblem(issue, problem);
      if (!beneath(p.path)) errors.push(p);
    }
    return { errors: sortProblems(errors), warnings: sortProblems(warnings) };
  }
  checkSemantics(parsed.output, mode, {
    error: (path, message) => errors.push(problem(path, message)),
    warn: (path, message) => warnings.push(problem(path, message)),
    written: (path) => src.textOf(path) !== undefined,
    textOf: (path) => src.textOf(path),
  });
  if (errors.length > 0) return { errors: sortProblems(errors), warnings: sortProblems(warnings) };
  return { config: parsed.output, parsed: parseConfig(parsed.output), errors: [], warnings: sortProblems(warnings) };
}

function findListsForMaps(schema: AnySchema, value: unknown, path: PathSegment[], found: (path: PathSegment[]) => void): void {
  if (value === null || typeof value !== "object") return;
  const u = unwrap(schema);
  const isMap = u.type === "strict_object" || u.type === "object" || u.type === "record";
  if (Array.isArray(value)) {
    if (isMap) found(path);
    else if (u.type === "array" && u.item) value.forEach((x, i) => findListsForMaps(u.item!, x, [...path, i], found));
    return;
  }
  for (const [k, x] of Object.entries(value)) {
    const c = child(u, k);
    if (c) findListsForMaps(c, x, [...path, k], found);
  }
}

type Issue = v.InferIssue<typeof MachineConfigSchema>;

function issueToProblem(issue: Issue, problem: (path: PathSegment[], message: string, at?: "key" | "value") => Problem): Problem {
  const path = (issue.path ?? []).map((p) => p.key as PathSegment);
  const last = issue.path?.at(-1);
  const parentPath = path.slice(0, -1);
  // Unknown and missing keys are reported by strict_object with the key in the path.
  if (issue.type === "strict_object" && last?.origin === "key") {
    const parent = schemaAt(root, parentPath);
    const known = Object.keys(unwrap(parent ?? root).entries ?? {});
    const name = String(last.key);
    if (issue.expected === "never") {
      const guess = closest(name, known);
      // A right key in the wrong place (hostname directly under machine) is a common slip.
      const elsewhere = guess ? undefined : fieldReference().find((r) => r.path.endsWith(`.${name}`) && !r.path.includes("[]"))?.path;
      const hint = guess ? `did you mean "${guess}"?` : elsewhere ? `it belongs at ${elsewhere}` : `known keys: ${known.join(", ")}`;
      return problem(path, `unknown key "${name}": ${hint}`, "key");
    }
    const want = schemaAt(root, path);
    return problem(path, `missing required key "${name}" (expected ${want ? describeType(want) : "a value"})`);
  }
  if (issue.kind === "validation") return problem(path, validationMessage(issue, last?.origin === "key"), last?.origin === "key" ? "key" : "value");
  const want = schemaAt(root, path);
  let message = `expected ${want ? describeType(want) : issue.expected ?? "another value"}, found ${describeValue(issue.input)}`;
  if (issue.type === "picklist" && typeof issue.input === "string") {
    const options = (unwrap(want ?? root).options ?? []).map(String);
    const guess = closest(issue.input, options);
    if (guess) message += `: did you mean "${guess}"?`;
  }
  if (issue.type === "boolean" && typeof issue.input === "string" && /^(yes|no|on|off|y|n|true|false)$/i.test(issue.input)) {
    message += ` (YAML 1.2 reads ${issue.input} as a string: write true or false)`;
  }
  if (issue.type === "number" && typeof issue.input === "string" && /^[0-9._]+$/.test(issue.input)) {
    message += " (write the number without quotes)";
  }
  return problem(path, message);
}

function validationMessage(issue: Issue, isKey: boolean): string {
  const found = describeValue(issue.input);
  const req = "requirement" in issue ? issue.requirement : undefined;
  switch (issue.type) {
    case "integer": return `expected an integer, found ${found}`;
    case "min_value": return `expected at least ${req}, found ${found}`;
    case "max_value": return `expected at most ${formatLimit(req)}, found ${found}`;
    case "min_length": return `expected at least ${req} item${req === 1 ? "" : "s"}, found ${Array.isArray(issue.input) ? issue.input.length : found}`;
    default: return isKey ? `bad key: ${issue.message}` : issue.message;
  }
}

function formatLimit(x: unknown): string {
  return x === 0o7777 ? "0o7777 (4095)" : String(x);
}

/** The YAML value as an operator would name it. */
export function describeValue(x: unknown): string {
  if (x === null || x === undefined) return "nothing (an empty value)";
  if (typeof x === "string") return `the string ${JSON.stringify(x.length > 40 ? x.slice(0, 37) + "..." : x)}`;
  if (typeof x === "number") return `the number ${x}`;
  if (typeof x === "boolean") return String(x);
  if (x instanceof Uint8Array) return "binary data";
  if (Array.isArray(x)) return "a list";
  if (typeof x === "object") return "a map";
  return typeof x;
}
