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
