/**
 * Where the machine config comes from at boot, in order: --config FILE, the kernel command line's
 * `bunker.config=URL` (fetched with retries), the copy saved in the state directory by the last
 * apply-config (the STATE partition on an installed node, a later step), else none: maintenance.
 * Every config, at boot or through the API, is checked whole by core/config's loadConfig: a
 * broken one is refused with every problem at its line:column.
 */
import { existsSync, readFileSync } from "node:fs";
import { formatProblems, loadConfig, loadConfigOffThread, MachineConfigSchema, type LoadResult, type MachineConfig, type Mode as ConfigMode, type ParsedConfig } from "../../core/config/config.ts";
import { redactConfig, redactedYaml, scrubText } from "../../core/config/redact.ts";
import type { AnySchema } from "../../core/config/schemawalk.ts";
import { sleep } from "./conditions.ts";
import { BunkerError } from "../../core/errors.ts";
import type { MachineConfigSpec } from "./resources.ts";
import { Backoff } from "../../core/time/backoff.ts";

/** A config that loadConfig refused; the message lists each problem as SOURCE:LINE:COLUMN: error: PATH: what. */
export class ConfigError extends BunkerError {
  constructor(message: string) {
    super("invalid_argument", message);
  }
}

/**
 * A config init holds: the resource's spec (the text and the checked document, as written) and
 * the parsed view loadConfig made of it, which the machine's parts take (the boot deadline, the
 * install disk's selector). The view stays in memory: the store and the API show the spec.
 */
export interface CheckedConfig extends MachineConfigSpec {
  parsed: ParsedConfig;
}

/** Parses and validates a machine config for a node of this kind (metal, container). */
export function parseMachineConfig(raw: string, source: string, mode: ConfigMode = "metal"): CheckedConfig {
  return toSpec(raw, source, loadConfig(raw, { mode }));
}

/**
 * parseMachineConfig for a config from the API: checked in a Worker (core/config/offthread.ts), so
 * a hostile document does not hold PID 1's event loop. Throws ConfigCheckError when busy or too slow.
 */
export async function parseUntrustedConfig(raw: string, source: string, mode: ConfigMode = "metal"): Promise<CheckedConfig> {
  return toSpec(raw, source, await loadConfigOffThread(raw, { mode }));
}

function toSpec(raw: string, source: string, r: LoadResult): CheckedConfig {
  if (!r.config || !r.parsed) throw new ConfigError(`machine config from ${source} is not valid:\n${formatProblems(source, r.errors, r.warnings)}`);
  const warnings = r.warnings.map((w) => `${source}:${w.line}:${w.column}: ${w.path}: ${w.message}`);
  return { raw, config: r.config, parsed: r.parsed, source, ...(warnings.length ? { warnings } : {}) };
}

const schema = MachineConfigSchema as unknown as AnySchema;

/**
 * What the MachineConfig resource holds: the config with every secret replaced (by the schema's
 * marks), and as `raw` that config as YAML, not the text applied (its comments, anchors or an
 * old key left in a comment could carry what the schema redacts). The secrets stay with init.
 */
export function publishedConfig(spec: MachineConfigSpec): MachineConfigSpec {
  const { redacted, secrets } = redactConfig(schema, spec.config);
  return {
    raw: redactedYaml(schema, spec.config), config: redacted, source: spec.source,
    ...(spec.warnings ? { warnings: spec.warnings.map((w) => scrubText(w, secrets)) } : {}),
  };
}

/** The redacted YAML of two configs, for a diff a caller may see: each side is redacted with both sides' secrets. */
export function redactedPair(before: MachineConfig | undefined, after: MachineConfig): [string, string] {
  const a = before ? redactConfig(schema, before).secrets : [];
  const b = redactConfig(schema, after).secrets;
  return [before ? redactedYaml(schema, before, b) : "", redactedYaml(schema, after, a)];
}

/** The value of `bunker.config=` on a kernel command line, if any. */
export function cmdlineConfigURL(cmdline: string): string | undefined {
  for (const word of cmdline.trim().split(/\s+/)) {
    if (word.startsWith("bunker.config=")) return word.slice("bunker.config=".length);
  }
  return undefined;
}

export interface FetchOptions {
  attempts?: number;
  firstDelayMs?: number;
  maxDelayMs?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
  onRetry?: (attempt: number, err: string, delayMs: number) => void;
}

/** Fetches a config over http(s), retrying with doubling delays: the network may still be coming up. */
export async function fetchConfig(url: string, o: FetchOptions = {}): Promise<string> {
  if (!/^https?:\/\//.test(url)) throw new Error(`bunker.config=${url}: only http:// and https:// URLs are supported`);
  const attempts = o.attempts ?? 10;
  const backoff = new Backoff(o.firstDelayMs ?? 1000, o.maxDelayMs ?? 30_000);
  let last = "";
  for (let i = 1; i <= attempts; i++) {
    try {
      const timeout = AbortSignal.timeout(o.timeoutMs ?? 10_000);
      const res = await fetch(url, { signal: o.signal ? AbortSignal.any([o.signal, timeout]) : timeout });
      if (res.ok) return await res.text();
      last = `HTTP ${res.status}`;
    } catch (err) {
      if (o.signal?.aborted) throw err;
      last = err instanceof Error ? err.message : String(err);
    }
    if (i === attempts) break;
    const delay = backoff.fail();
    o.onRetry?.(i, last, delay);
    await sleep(delay, o.signal ?? new AbortController().signal);
  }
  throw new Error(`bunker.config=${url}: gave up after ${attempts} attempts: ${last}`);
}

export interface ConfigSources {
  /** --config FILE */
  file?: string;
  /** The kernel command line (metal only). */
  cmdline?: string;
  /** The saved copy from the last apply-config. */
  savedPath: string;
  /** What the node runs on: decides what the config must hold (default metal). */
  mode?: ConfigMode;
}

/** The boot config, or undefined for maintenance mode. Throws when a named source is broken. */
export async function loadBootConfig(src: ConfigSources, fetchOpts: FetchOptions = {}): Promise<CheckedConfig | undefined> {
  if (src.file) return parseMachineConfig(readFileSync(src.file, "utf8"), src.file, src.mode);
  const url = src.cmdline ? cmdlineConfigURL(src.cmdline) : undefined;
  if (url) return parseMachineConfig(await fetchConfig(url, fetchOpts), url, src.mode);
  if (existsSync(src.savedPath)) return parseMachineConfig(readFileSync(src.savedPath, "utf8"), "state", src.mode);
  return undefined;
}
