/**
 * Walking the valibot schema tree by hand: what sits at a path (for "did you mean" and "expected
 * ..." messages) and the plain description of a schema's type. The JSON Schema export and the
 * field reference build on the same helpers.
 */
import type { PathSegment } from "./problem.ts";

/** The parts of valibot's schema objects this code reads. */
export interface AnySchema {
  kind: string;
  type: string;
  expects?: string;
  entries?: Record<string, AnySchema>;
  item?: AnySchema;
  key?: AnySchema;
  value?: AnySchema;
  options?: readonly unknown[];
  literal?: unknown;
  wrapped?: AnySchema;
  default?: unknown;
  pipe?: readonly { kind: string; type: string; requirement?: unknown; description?: string }[];
}

/** The schema under optional/nullable wrappers. */
export function unwrap(s: AnySchema): AnySchema {
  while ((s.type === "optional" || s.type === "nullable" || s.type === "nullish") && s.wrapped) s = s.wrapped;
  return s;
}

/** The schema of the child `seg` of `s`. */
export function child(s: AnySchema, seg: PathSegment): AnySchema | undefined {
  const u = unwrap(s);
  if ((u.type === "strict_object" || u.type === "object") && u.entries) return Object.hasOwn(u.entries, String(seg)) ? u.entries[String(seg)] : undefined;
  if (u.type === "array") return u.item;
  if (u.type === "record") return u.value;
  return undefined;
}

export function schemaAt(root: AnySchema, path: readonly PathSegment[]): AnySchema | undefined {
  let s: AnySchema | undefined = root;
  for (const seg of path) {
    if (!s) return undefined;
    s = child(s, seg);
  }
  return s;
}

export function description(s: AnySchema): string | undefined {
  for (const x of [s, unwrap(s)]) {
    const d = x.pipe?.findLast((a) => a.type === "description")?.description;
    if (d) return d;
  }
  return undefined;
}

export function pipeAction(s: AnySchema, type: string): { requirement?: unknown } | undefined {
  return unwrap(s).pipe?.find((a) => a.type === type);
}

/** "a string", "a list of ...", "one of a, b" for messages and docs. */
export function describeType(s: AnySchema): string {
  const u = unwrap(s);
  switch (u.type) {
    case "string": return "a string";
    case "number": return pipeAction(u, "integer") ? "an integer" : "a number";
    case "boolean": return "true or false";
    case "literal": return JSON.stringify(u.literal);
    case "picklist": return `one of ${(u.options ?? []).map((o) => String(o)).join(", ")}`;
    case "array": return u.item ? `a list of ${plural(describeType(u.item))}` : "a list";
    case "record": return "a map";
    case "strict_object": case "object": return "a map";
    case "union": return (u.options as AnySchema[] | undefined)?.map(describeType).join(" or ") ?? "a value";
    default: return u.expects ?? u.type;
  }
}

function plural(t: string): string {
  if (t.startsWith("one of ")) return `values (${t})`;
  return t.replace(/^an? /, "").replace(/^(string|map|number|integer|list)/, "$1s").replace(/^true or false$/, "booleans");
}
