/**
 * Where the machine config comes from at boot, in order: --config FILE, the kernel command line's
 * `bunker.config=URL` (fetched with retries), the copy saved in the state directory by the last
 * apply-config (the STATE partition on an installed node, a later step), else none: maintenance.
 * The check here is the minimum init needs (a v1alpha1 document with a machine type); the full
 * schema check belongs to the config library and replaces it when that lands.
 */
import { existsSync, readFileSync } from "node:fs";
import { parse } from "yaml";
import { sleep } from "./conditions.ts";
import type { MachineConfigSpec } from "./resources.ts";

export function parseMachineConfig(raw: string, source: string): MachineConfigSpec {
  let doc: unknown;
  try {
    doc = parse(raw);
  } catch (err) {
    throw new Error(`machine config from ${source}: not valid YAML: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw new Error(`machine config from ${source}: expected a YAML mapping`);
  const c = doc as Record<string, unknown>;
  if (c.version !== "v1alpha1") throw new Error(`machine config from ${source}: version: expected "v1alpha1", got ${JSON.stringify(c.version)}`);
  const machine = c.machine as Record<string, unknown> | undefined;
  if (!machine || typeof machine !== "object") throw new Error(`machine config from ${source}: machine: required`);
  if (machine.type !== "controlplane" && machine.type !== "worker") {
    throw new Error(`machine config from ${source}: machine.type: expected controlplane or worker, got ${JSON.stringify(machine.type)}`);
  }
  return { raw, config: c, source };
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
  let delay = o.firstDelayMs ?? 1000;
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
    o.onRetry?.(i, last, delay);
    await sleep(delay, o.signal ?? new AbortController().signal);
    delay = Math.min(delay * 2, o.maxDelayMs ?? 30_000);
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
}

/** The boot config, or undefined for maintenance mode. Throws when a named source is broken. */
export async function loadBootConfig(src: ConfigSources, fetchOpts: FetchOptions = {}): Promise<MachineConfigSpec | undefined> {
  if (src.file) return parseMachineConfig(readFileSync(src.file, "utf8"), src.file);
  const url = src.cmdline ? cmdlineConfigURL(src.cmdline) : undefined;
  if (url) return parseMachineConfig(await fetchConfig(url, fetchOpts), url);
  if (existsSync(src.savedPath)) return parseMachineConfig(readFileSync(src.savedPath, "utf8"), "state");
  return undefined;
}
