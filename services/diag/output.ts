/** Shared by the diag commands: `-o table|json` parsing, table rendering, and the rtnetlink session. */
import { parseArgs } from "node:util";
import { Rtnl } from "../../core/netlink/rtnl.ts";

export type Format = "table" | "json";

/** Parses `[-o table|json] [--help]`; returns the format, or an exit code when done already. */
export function parseOutput(name: string, summary: string, argv: string[]): Format | number {
  let v;
  try {
    v = parseArgs({ args: argv, options: { output: { type: "string", short: "o" }, help: { type: "boolean", short: "h" } }, strict: true }).values;
  } catch (e) {
    console.error(`diag ${name}: ${(e as Error).message}`);
    return 2;
  }
  if (v.help) {
    console.log(`Usage: diag ${name} [-o table|json]\n\n${summary}`);
    return 0;
  }
  const fmt = v.output ?? "table";
  if (fmt !== "table" && fmt !== "json") {
    console.error(`diag ${name}: -o must be table or json, not "${fmt}"`);
    return 2;
  }
  return fmt;
}

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/** Runs `fn` with an rtnetlink socket; a failure becomes a one-line error and exit 1. */
export async function withRtnl(name: string, fn: (nl: Rtnl) => Promise<void>): Promise<number> {
  let nl: Rtnl | undefined;
  try {
    nl = Rtnl.open();
    await fn(nl);
    return 0;
  } catch (e) {
    console.error(`diag ${name}: ${(e as Error).message}`);
    return 1;
  } finally {
    await nl?.close();
  }
}

/** A command that prints what `read` returns: a table of `row`s, or the data itself with -o json. */
export async function runReader<T>(
  name: string, summary: string, argv: string[],
  read: () => T[] | Promise<T[]>, header: string[], row: (item: T) => string[],
): Promise<number> {
  const fmt = parseOutput(name, summary, argv);
  if (typeof fmt === "number") return fmt;
  let items: T[];
  try {
    items = await read();
  } catch (e) {
    console.error(`diag ${name}: ${(e as Error).message}`);
    return 1;
  }
  console.log(fmt === "json" ? JSON.stringify(items, null, 2) : table(header, items.map(row)));
  return 0;
}

/** 1536 -> "1.5 KiB": sizes for people. */
export function humanBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}
