/** Shared by the diag commands: `-o table|json` parsing, table rendering, and the rtnetlink session. */
import { parseCli } from "../cli.ts";
import { formatTable } from "../../core/format/table.ts";
import { Rtnl } from "../../core/netlink/rtnl.ts";

export type Format = "table" | "json";

/** Parses `[-o table|json] [--help]`; returns the format, or an exit code when done already. */
export function parseOutput(name: string, summary: string, argv: string[]): Format | number {
  const p = parseCli(`diag ${name}`, argv, `Usage: diag ${name} [-o table|json]\n\n${summary}`, { output: { type: "string", short: "o" } });
  if (typeof p === "number") return p;
  const fmt = p.values.output ?? "table";
  if (fmt !== "table" && fmt !== "json") {
    console.error(`diag ${name}: -o must be table or json, not "${fmt}"`);
    return 2;
  }
  return fmt;
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
  console.log(fmt === "json" ? JSON.stringify(items, null, 2) : formatTable(header, items.map(row)));
  return 0;
}
