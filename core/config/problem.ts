/**
 * A problem found in a machine config: where (YAML path and line:column) and what. Errors make a
 * config invalid; warnings point at doubtful but legal values.
 */
export interface Problem {
  /** The YAML path, e.g. `machine.network.interfaces[1].addresses[0]`; ROOT_PATH for the whole document. */
  path: string;
  /** 1-based line and column of the node the problem is about (its parent when it is missing). */
  line: number;
  column: number;
  message: string;
}

export type Severity = "error" | "warning";

/** The path of the document itself (empty file, a list where a map belongs, ...). */
export const ROOT_PATH = "(root)";

export type PathSegment = string | number;

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** `["machine", "network", "interfaces", 1, "addresses", 0]` -> `machine.network.interfaces[1].addresses[0]`. */
export function formatPath(segments: readonly PathSegment[]): string {
  let out = "";
  for (const s of segments) {
    if (typeof s === "number") out += `[${s}]`;
    // Keys with dots (sysctl names) or odd characters are quoted so the path stays unambiguous.
    else if (PLAIN_KEY.test(s)) out += out ? `.${s}` : s;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out || ROOT_PATH;
}

/** One line per problem: `FILE:LINE:COL: error: PATH: message`, errors first, each group in file order. */
export function formatProblems(file: string, errors: readonly Problem[], warnings: readonly Problem[] = []): string {
  const lines: string[] = [];
  for (const [sev, list] of [["error", errors], ["warning", warnings]] as const) {
    for (const p of sortProblems(list)) lines.push(`${file}:${p.line}:${p.column}: ${sev}: ${p.path}: ${p.message}`);
  }
  return lines.join("\n");
}

export function sortProblems(list: readonly Problem[]): Problem[] {
  return [...list].sort((a, b) => a.line - b.line || a.column - b.column || a.path.localeCompare(b.path));
}
