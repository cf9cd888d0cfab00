/**
 * Which config values are secrets, and the config with them replaced. The schema marks each
 * secret field (`secret(...)` in schema.ts), so a field added later is redacted by saying so where
 * it is declared, not by remembering a list here. What a caller may see of a config (the
 * MachineConfig resource, an ApplyConfiguration diff, an error) comes from redactConfig; the
 * values themselves stay with the code that needs them (services/init keeps them in memory).
 */
import { stringify } from "yaml";
import { child, unwrap, type AnySchema } from "./schemawalk.ts";

/** What a secret value becomes. */
export const REDACTED = "[redacted]";

const secrets = new WeakSet<object>();

/** Marks a schema as a secret value (returned unchanged: descriptions and JSON Schema stay as they are). */
export function secret<T extends object>(schema: T): T {
  secrets.add(schema);
  return schema;
}

/** Whether the schema (under optional wrappers) was declared secret. */
export function isSecret(s: AnySchema | undefined): boolean {
  return s !== undefined && (secrets.has(s) || secrets.has(unwrap(s)));
}

/**
 * Secrets shorter than this are replaced where they are declared but not searched for elsewhere:
 * they could match ordinary values (an address, a name) that the node itself reads back from the
 * published config. Keys, tokens and the cluster secret are all longer.
 */
const MIN_SCRUB_LENGTH = 16;

/**
 * The config with every secret value replaced by REDACTED, and the secret values it held.
 * `also`: secret values of another config (a diff redacts each side with both sides' secrets).
 * A secret copied into a field that is not secret (a sysctl value, a YAML alias) is replaced
 * there too: the walk collects the values first, then scrubs every string that contains one.
 */
export function redactConfig<T>(schema: AnySchema, config: T, also: Iterable<string> = []): { redacted: T; secrets: string[] } {
  const found = new Set<string>([...also].filter((s) => s.length >= MIN_SCRUB_LENGTH));
  const collect = (s: AnySchema | undefined, value: unknown): unknown => {
    if (value === undefined || value === null) return value;
    if (isSecret(s)) {
      if (typeof value === "string" && value.length >= MIN_SCRUB_LENGTH) found.add(value);
      return REDACTED;
    }
    if (Array.isArray(value)) return value.map((x, i) => collect(s && child(s, i), x));
    if (typeof value === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(value as Record<string, unknown>)) out[k] = collect(s && child(s, k), x);
      return out;
    }
    return value;
  };
  const first = collect(schema, config);
  const all = [...found];
  const scrub = (value: unknown): unknown => {
    if (typeof value === "string") return all.some((x) => value.includes(x)) ? REDACTED : value;
    if (Array.isArray(value)) return value.map(scrub);
    if (value !== null && typeof value === "object") {
      return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, x]) => [scrubText(k, all), scrub(x)]));
    }
    return value;
  };
  return { redacted: scrub(first) as T, secrets: all };
}

/** The redacted config as YAML text (what a caller is shown in place of the text applied). */
export function redactedYaml(schema: AnySchema, config: unknown, also: Iterable<string> = []): string {
  return config === undefined ? "" : stringify(redactConfig(schema, config, also).redacted, { lineWidth: 0 });
}

/**
 * The shapes secrets take in a config (base64 of a PEM block or of 32 bytes, a join token, a PEM
 * block itself), for text the schema cannot walk: the messages about a config that did not parse.
 */
const SECRET_SHAPES = [
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g,
  /[A-Za-z0-9+/]{40,}={0,2}/g,
  /\b[a-z0-9]{6}\.[a-z0-9]{16}\b/g,
];

/** Text with the given secret values, and anything shaped like a secret, replaced by REDACTED. */
export function scrubText(text: string, known: Iterable<string> = []): string {
  let out = text;
  for (const k of known) if (k.length >= MIN_SCRUB_LENGTH) out = out.split(k).join(REDACTED);
  for (const re of SECRET_SHAPES) out = out.replace(re, REDACTED);
  return out;
}
