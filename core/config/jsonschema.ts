/**
 * The machine config as a JSON Schema (draft 2020-12) for editors, derived from the valibot
 * schema so the two cannot drift. Forms that only code can check (a certificate that parses,
 * a route whose gateway matches its family) are left to `bunkerctl validate`.
 */
import { MachineConfigSchema } from "./schema.ts";
import { description, unwrap, type AnySchema } from "./schemawalk.ts";

export type JsonSchema = Record<string, unknown>;

export const SCHEMA_ID = "urn:bunker:machine-config:v1alpha1";

export function machineConfigJsonSchema(): JsonSchema {
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: SCHEMA_ID,
    title: "Bunker machine config v1alpha1",
    ...convert(MachineConfigSchema as unknown as AnySchema),
  };
}

function isOptional(s: AnySchema): boolean {
  return s.type === "optional" || s.type === "nullish";
}

export function convert(s: AnySchema): JsonSchema {
  const out: JsonSchema = {};
  if (isOptional(s) && s.default !== undefined && typeof s.default !== "function") out.default = structuredClone(s.default);
  const desc = description(s);
  const u = unwrap(s);
  switch (u.type) {
    case "strict_object": case "object": {
      const entries = Object.entries(u.entries ?? {});
      out.type = "object";
      out.properties = Object.fromEntries(entries.map(([k, e]) => [k, convert(e)]));
      const required = entries.filter(([, e]) => !isOptional(e)).map(([k]) => k);
      if (required.length) out.required = required;
      if (u.type === "strict_object") out.additionalProperties = false;
      break;
    }
    case "record":
      out.type = "object";
      if (u.key) out.propertyNames = convert(u.key);
      if (u.value) out.additionalProperties = convert(u.value);
      break;
    case "array":
      out.type = "array";
      if (u.item) out.items = convert(u.item);
      break;
    case "string":
      out.type = "string";
      break;
    case "number":
      out.type = "number";
      break;
    case "boolean":
      out.type = "boolean";
      break;
    case "literal":
      out.const = u.literal;
      break;
    case "picklist":
      out.enum = [...(u.options ?? [])];
      break;
    case "union":
      out.anyOf = (u.options as AnySchema[]).map(convert);
      break;
    default:
      // A new kind of schema must be taught here rather than silently exported as "anything".
      throw new Error(`jsonschema: no JSON Schema for the valibot schema type "${u.type}"`);
  }
  for (const a of u.pipe ?? []) {
    const req = a.requirement as number;
    if (a.type === "integer") out.type = "integer";
    else if (a.type === "min_value") out.minimum = req;
    else if (a.type === "max_value") out.maximum = req;
    else if (a.type === "min_length") out[u.type === "array" ? "minItems" : "minLength"] = req;
    else if (a.type === "metadata") Object.assign(out, (a as { metadata?: { jsonSchema?: JsonSchema } }).metadata?.jsonSchema ?? {});
  }
  if (desc) out.description = desc;
  return out;
}
