/** How remote commands print: aligned tables, JSON, YAML, and the units people read. */
import { stringify } from "yaml";
import { formatTable } from "../../../core/format/table.ts";

export { formatTable };

export type Format = "table" | "json" | "yaml";

/** -o/--output: table (also "text"), json, yaml; or an error message. */
export function parseFormat(value: string | undefined, allowed: readonly Format[] = ["table", "json"]): Format | string {
  const v = value === undefined || value === "text" ? "table" : value;
  return (allowed as readonly string[]).includes(v) ? (v as Format) : `unknown output format "${value}" (${allowed.join(", ")})`;
}

/** Prints records as the format asks: a table of `columns`, a JSON array, or a YAML list. */
export function printRecords<T>(format: Format, records: T[], columns: [string, (r: T) => string][], data: (r: T) => unknown = (r) => r): void {
  if (format === "json") return console.log(JSON.stringify(records.map(data), null, 2));
  if (format === "yaml") return void process.stdout.write(records.length ? stringify(records.map(data)) : "[]\n");
  console.log(formatTable(columns.map(([h]) => h), records.map((r) => columns.map(([, f]) => f(r)))));
}

/** "2026-11-25T20:01:06Z" without milliseconds; "" for 0 (unset). */
export function isoTime(ms: number | undefined): string {
  return ms ? new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z") : "";
}

/** "30s", "2m", "1h30m", "500ms" or a number of seconds, in milliseconds; undefined when malformed. */
export function parseDuration(s: string): number | undefined {
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let rest = s;
  while (rest) {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)/.exec(rest);
    if (!m) return undefined;
    total += Number(m[1]) * units[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return s ? total : undefined;
}
