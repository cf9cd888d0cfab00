/**
 * What every `bunker partition` command shares: the options, the one disk a command may touch
 * (--disk or --select), opening it, and the refusal to write under a mounted filesystem.
 */
import { readFileSync } from "node:fs";
import type { parseArgs } from "node:util";
import { UsageError } from "../../core/cli/args.ts";
import { openDisk, type DiskDevice } from "../../core/gpt/device.ts";
import { discoverDisks, type Disk } from "../../core/disks/disk.ts";
import { parseSizeCondition, selectInstallDisk, type DiskSelector } from "../../core/disks/selector.ts";

export { UsageError };

export const OPTIONS = {
  disk: { type: "string" },
  select: { type: "string", multiple: true },
  "dry-run": { type: "boolean" },
  wipe: { type: "boolean" },
  "no-format": { type: "boolean" },
  "sector-size": { type: "string" },
  "ephemeral-fs": { type: "string" },
  sysfs: { type: "string" },
  image: { type: "string" },
  pubkey: { type: "string" },
  config: { type: "string" },
  volume: { type: "string", multiple: true },
  seconds: { type: "string" },
  watch: { type: "string" },
  then: { type: "string" },
  output: { type: "string", short: "o" },
  help: { type: "boolean", short: "h" },
} as const;

export type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>["values"];

function sectorSize(values: Values): 512 | 4096 | undefined {
  const s = values["sector-size"];
  if (s === undefined) return undefined;
  if (s !== "512" && s !== "4096") throw new UsageError(`--sector-size ${s}: expected 512 or 4096`);
  return Number(s) as 512 | 4096;
}

/** Runs `f` with `path` opened (for writing only when `write`), closing it whatever happens. */
export function withDisk<T>(path: string, values: Values, write: boolean, f: (dev: DiskDevice) => T): T {
  const dev = openDisk(path, { write, sectorSize: sectorSize(values) });
  try {
    return f(dev);
  } finally {
    dev.close();
  }
}

export const toJson = (v: unknown) => JSON.stringify(v, (_, x) => (typeof x === "bigint" ? "0x" + x.toString(16) : x), 2);

function parseSelector(items: string[]): DiskSelector {
  const sel: Record<string, unknown> = {};
  const fields = ["size", "model", "serial", "wwid", "name", "modalias", "busPath", "type", "transport"];
  for (const it of items) {
    const eq = it.indexOf("=");
    const k = it.slice(0, eq), v = it.slice(eq + 1);
    if (eq < 1 || !fields.includes(k)) throw new UsageError(`--select ${it}: expected FIELD=VALUE with FIELD one of ${fields.join(", ")}`);
    sel[k] = k === "size" ? parseSizeCondition(v) : v;
  }
  return sel as DiskSelector;
}

/** The one disk the command may touch: --disk, or the first disk --select matches. */
export function targetDisk(values: Values): { path: string; chosen?: Disk } {
  if (values.disk && values.select) throw new UsageError("give --disk or --select, not both");
  if (values.disk) return { path: values.disk };
  if (values.select) {
    const chosen = selectInstallDisk(discoverDisks(values.sysfs ?? "/sys"), parseSelector(values.select));
    return { path: chosen.devPath, chosen };
  }
  throw new UsageError("name the disk: --disk PATH or --select FIELD=VALUE");
}

/** Mount sources that are this disk or one of its partitions: never write under a mounted filesystem. */
export function mountedFrom(path: string): string[] {
  let mounts = "";
  try { mounts = readFileSync("/proc/self/mounts", "utf8"); } catch { return []; }
  return mounts.split("\n").map((l) => l.split(" ")).filter((f) => f[0] !== undefined && (f[0] === path || f[0].startsWith(path)) && /^\/dev\//.test(f[0]))
    .map((f) => `${f[0]} on ${f[1]}`);
}
