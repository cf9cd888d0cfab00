/**
 * The field reference of the machine config, derived from the schema: one row per field with its
 * type, default, description and apply effect. docs/config.md embeds it as a table
 * (scripts/config-docs.ts writes it; a test checks the file is current).
 */
import { MachineConfigSchema } from "./schema.ts";
import { APPLY_EFFECTS, applyEffect, type ApplyEffect } from "./effects.ts";
import { describeType, description, unwrap, type AnySchema } from "./schemawalk.ts";
import type { PathSegment } from "./problem.ts";

export interface FieldRow {
  /** `machine.network.interfaces[].mtu`; `[]` stands for any list index. */
  path: string;
  type: string;
  /** Must be given whenever its parent is. */
  required: boolean;
  default?: unknown;
  description: string;
  effect: ApplyEffect;
}

export function fieldReference(): FieldRow[] {
  const rows: FieldRow[] = [];
  const walk = (s: AnySchema, path: string, segs: PathSegment[]) => {
    const u = unwrap(s);
    if (path) {
      const optional = s.type === "optional";
      rows.push({
        path,
        type: describeType(s),
        required: !optional,
        ...(optional && s.default !== undefined && typeof s.default !== "function" ? { default: s.default } : {}),
        description: description(s) ?? "",
        effect: applyEffect(segs),
      });
    }
    if ((u.type === "strict_object" || u.type === "object") && u.entries) {
      for (const [k, e] of Object.entries(u.entries)) walk(e, path ? `${path}.${k}` : k, [...segs, k]);
    } else if (u.type === "array" && u.item && ["strict_object", "object"].includes(unwrap(u.item).type)) {
      walk(u.item, `${path}[]`, [...segs, 0]);
      rows.splice(rows.findIndex((r) => r.path === `${path}[]`), 1); // the item row repeats its list's row
    }
  };
  walk(MachineConfigSchema as unknown as AnySchema, "", []);
  return rows;
}

/** The reference as a markdown table. */
export function fieldReferenceMarkdown(): string {
  const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");
  const lines = ["| field | type | default | applies | description |", "|---|---|---|---|---|"];
  for (const r of fieldReference()) {
    // Modes are written the way YAML should spell them.
    const shown = typeof r.default === "number" && r.path.endsWith("permissions") ? `0o${r.default.toString(8)}` : JSON.stringify(r.default);
    const def = r.required ? "required" : r.default === undefined ? "" : `\`${shown}\``;
    lines.push(`| \`${r.path}\` | ${cell(r.type)} | ${def} | ${r.effect} | ${cell(r.description)} |`);
  }
  return lines.join("\n");
}

/** The apply-effect rules as a markdown table. */
export function applyEffectsMarkdown(): string {
  return ["| path (and below) | applies | why |", "|---|---|---|", ...APPLY_EFFECTS.map((r) => `| \`${r.path}\` | ${r.effect} | ${r.why} |`)].join("\n");
}

/** The generated sections of docs/config.md, by marker name. */
export function generatedDocSections(): Record<string, string> {
  return { fields: fieldReferenceMarkdown(), effects: applyEffectsMarkdown() };
}

/** `text` with each `<!-- BEGIN GENERATED: name -->...<!-- END GENERATED: name -->` refreshed. */
export function refreshGenerated(text: string, sections: Record<string, string>): string {
  for (const [name, body] of Object.entries(sections)) {
    const begin = `<!-- BEGIN GENERATED: ${name} -->`, end = `<!-- END GENERATED: ${name} -->`;
    const i = text.indexOf(begin), j = text.indexOf(end);
    if (i < 0 || j < i) throw new Error(`docs: the markers of the generated section "${name}" are missing`);
    text = `${text.slice(0, i + begin.length)}\n${body}\n${text.slice(j)}`;
  }
  return text;
}
