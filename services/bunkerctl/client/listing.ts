/**
 * The shape of most read commands: ask every node, gather one record per row with the node's
 * name, print them as a table (NODE first) or as data.
 */
import type { Destination } from "./api.ts";
import type { Format } from "./output.ts";
import { printRecords } from "./output.ts";
import { FORMAT_OPTION, formatOption, runRemote, type Remote } from "./remote.ts";

export type Row<T> = T & { node: string };
export type Columns<T> = [string, (r: Row<T>) => string][];

/** Fetches rows from every node, prints those that came, returns the exit code (first failure's). */
export async function listFromNodes<T extends object>(
  r: Remote, format: Format, fetch: (d: Destination) => Promise<T[]>, columns: Columns<T>,
): Promise<number> {
  const { results, exit } = await r.each(fetch);
  const rows = results.flatMap(({ d, value }) => value.map((v) => ({ node: d.label, ...v }) as Row<T>));
  if (results.length > 0 || format !== "table") printRecords(format, rows, [["NODE", (x) => x.node], ...columns]);
  return exit;
}

/** A whole read command with no options but -o and the connection flags: one call per node, rows printed. */
export function listCommand<T extends object>(argv: string[], help: string, fetch: (r: Remote, d: Destination) => Promise<T[]>, columns: Columns<T>): Promise<number> {
  return runRemote(argv, help, { ...FORMAT_OPTION }, [0, 0], async (a, r) => {
    const format = formatOption(a.values.output, help, ["table", "json", "yaml"]);
    if (typeof format === "number") return format;
    return listFromNodes(r, format, (d) => fetch(r, d), columns);
  });
}
