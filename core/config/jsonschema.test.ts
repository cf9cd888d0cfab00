import { expect, test } from "bun:test";
import { isIP } from "node:net";
import { parse } from "yaml";
import { machineConfigJsonSchema, type JsonSchema } from "./jsonschema.ts";
import { loadConfig } from "./config.ts";
import { fixture } from "./testdata/fixtures.ts";

/**
 * A small validator for the keywords the export uses. An unknown keyword throws, so the export
 * cannot grow a keyword this test silently ignores.
 */
function validate(schema: JsonSchema, value: unknown, path = "$"): string[] {
  const errs: string[] = [];
  const type = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);
  for (const [kw, arg] of Object.entries(schema)) {
    const a = arg as never;
    switch (kw) {
      case "$schema": case "$id": case "title": case "description": case "default": case "properties": break;
      case "type":
        if (arg === "integer" ? !Number.isInteger(value) : type(value) !== arg) errs.push(`${path}: expected ${arg}`);
        break;
      case "required":
        if (type(value) === "object") for (const k of a as string[]) if (!(k in (value as object))) errs.push(`${path}: missing ${k}`);
        break;
      case "additionalProperties":
        if (type(value) !== "object") break;
        for (const [k, v] of Object.entries(value as object)) {
          if (schema.properties && k in (schema.properties as object)) continue;
          if (arg === false) errs.push(`${path}.${k}: not allowed`);
          else errs.push(...validate(a, v, `${path}.${k}`));
        }
        break;
      case "propertyNames":
        if (type(value) === "object") for (const k of Object.keys(value as object)) errs.push(...validate(a, k, `${path}[key ${k}]`));
        break;
      case "items":
        if (Array.isArray(value)) value.forEach((v, i) => errs.push(...validate(a, v, `${path}[${i}]`)));
        break;
      case "enum": if (!(a as unknown[]).includes(value)) errs.push(`${path}: not in enum`); break;
      case "const": if (value !== arg) errs.push(`${path}: not ${arg}`); break;
      case "anyOf": if (!(a as JsonSchema[]).some((s) => validate(s, value, path).length === 0)) errs.push(`${path}: matches no anyOf branch`); break;
      case "minimum": if (typeof value === "number" && value < a) errs.push(`${path}: below ${arg}`); break;
      case "maximum": if (typeof value === "number" && value > a) errs.push(`${path}: above ${arg}`); break;
      case "minItems": if (Array.isArray(value) && value.length < a) errs.push(`${path}: too few items`); break;
      case "minLength": if (typeof value === "string" && value.length < a) errs.push(`${path}: too short`); break;
      case "maxLength": if (typeof value === "string" && value.length > a) errs.push(`${path}: too long`); break;
      case "pattern": if (typeof value === "string" && !new RegExp(a, "u").test(value)) errs.push(`${path}: does not match ${arg}`); break;
      case "format":
        if (typeof value !== "string") break;
        if (arg === "ipv4" && isIP(value) !== 4) errs.push(`${path}: not ipv4`);
        else if (arg === "ipv6" && isIP(value) !== 6) errs.push(`${path}: not ipv6`);
        else if (arg === "hostname" && !/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(value)) errs.push(`${path}: not a hostname`);
        break;
      default: throw new Error(`validator: unknown keyword ${kw} at ${path}`);
    }
  }
  if (schema.properties && type(value) === "object") {
    for (const [k, s] of Object.entries(schema.properties as Record<string, JsonSchema>)) {
      if (k in (value as object)) errs.push(...validate(s, (value as Record<string, unknown>)[k], `${path}.${k}`));
    }
  }
  return errs;
}

const schema = machineConfigJsonSchema();
const samples = [fixture("controlplane.yaml"), fixture("worker.yaml")].map((t) => parse(t) as Record<string, unknown>);

test("the schema is draft 2020-12 and closed: every object refuses unknown keys", () => {
  expect(schema.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
  let objects = 0;
  const walk = (s: JsonSchema, path: string) => {
    if (s.type === "object" && s.properties) {
      objects++;
      expect({ path, additionalProperties: s.additionalProperties }).toEqual({ path, additionalProperties: false });
      for (const [k, sub] of Object.entries(s.properties as Record<string, JsonSchema>)) {
        expect({ path: `${path}.${k}`, described: typeof sub.description === "string" }).toEqual({ path: `${path}.${k}`, described: true });
        walk(sub, `${path}.${k}`);
      }
    }
    if (s.items) walk(s.items as JsonSchema, `${path}[]`);
  };
  walk(schema, "$");
  expect(objects).toBeGreaterThan(15);
});

test("the valid samples validate, as written and with defaults filled in", () => {
  for (const s of samples) expect(validate(schema, s)).toEqual([]);
  for (const t of [fixture("controlplane.yaml"), fixture("worker.yaml")]) {
    const c = JSON.parse(JSON.stringify(loadConfig(t).config));
    expect(validate(schema, c)).toEqual([]);
  }
});

test("an unknown key, a wrong type, a missing key and a bad form are rejected at their path", () => {
  const cp = () => structuredClone(samples[0]!) as any;
  let c = cp(); c.machine.network.interfaces[0].adresses = [];
  expect(validate(schema, c)).toEqual(["$.machine.network.interfaces[0].adresses: not allowed"]);
  c = cp(); c.extra = 1;
  expect(validate(schema, c)).toEqual(["$.extra: not allowed"]);
  c = cp(); c.machine.network.interfaces[0].mtu = "1500";
  expect(validate(schema, c)).toEqual(["$.machine.network.interfaces[0].mtu: expected integer"]);
  c = cp(); delete c.cluster.clusterName;
  expect(validate(schema, c)).toEqual(["$.cluster: missing clusterName"]);
  c = cp(); c.machine.type = "boss";
  expect(validate(schema, c)).toEqual(["$.machine.type: not in enum"]);
  c = cp(); c.machine.time.bootTimeout = "soon";
  expect(validate(schema, c)).toEqual([`$.machine.time.bootTimeout: does not match ${(schema as any).properties.machine.properties.time.properties.bootTimeout.pattern}`]);
  c = cp(); c.machine.sysctls["Bad Key"] = "1";
  expect(validate(schema, c).length).toBe(1);
});

test("defaults in the schema are the loader's defaults", () => {
  const m = (schema as any).properties.machine.properties;
  // The worker sample leaves these out, so the loader fills them in.
  const loaded = loadConfig(fixture("worker.yaml")).config!;
  expect(m.time.properties.bootTimeout.default).toBe(loaded.machine.time.bootTimeout);
  expect(m.time.properties.servers.default).toEqual(loaded.machine.time.servers);
  expect(m.install.properties.wipe.default).toBe(loaded.machine.install!.wipe);
  expect(m.network.properties.interfaces.items.properties.ignore.default).toBe(loaded.machine.network.interfaces[0]!.ignore);
});
