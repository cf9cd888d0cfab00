/**
 * Flag parsing shared by bunkerctl commands: node:util parseArgs plus the conventions every
 * command follows (--help prints the help and exits 0; a usage error says what was wrong and
 * exits 2; -o/--output json where output is data).
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { defaultClientConfigPath } from "../../core/clientconfig/clientconfig.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

export type Parsed<O extends Options> = { values: { [K in keyof O]?: O[K] extends { multiple: true } ? (O[K] extends { type: "boolean" } ? boolean[] : string[]) : O[K] extends { type: "boolean" } ? boolean : string }; positionals: string[] };

/**
 * Parses argv; returns the exit code instead when the command should stop here (help shown or
 * usage error). `positionals` is [min, max] of positional arguments allowed.
 */
export function parseCommandArgs<O extends Options>(argv: string[], help: string, options: O, positionals: [number, number] = [0, 0]): Parsed<O> | number {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(help);
    return 0;
  }
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true }) as typeof parsed;
  } catch (e) {
    return usageError(help, (e as Error).message);
  }
  const [min, max] = positionals;
  const n = parsed.positionals.length;
  if (n < min) return usageError(help, `expected ${min === max ? min : `at least ${min}`} argument${min === 1 ? "" : "s"}, got ${n}`);
  if (n > max) return usageError(help, `unexpected argument${n - max > 1 ? "s" : ""}: ${parsed.positionals.slice(max).join(" ")}`);
  return parsed as Parsed<O>;
}

export function usageError(help: string, message: string): number {
  console.error(`error: ${message}\n`);
  console.error(help.split("\n")[0]);
  console.error("(--help for more)");
  return 2;
}

/** The output format option shared by commands whose output is data. */
export const OUTPUT_OPTION = { output: { type: "string", short: "o", default: "text" } } as const;

export function outputFormat(value: string | undefined, help: string): "text" | "json" | number {
  if (value === undefined || value === "text" || value === "table") return "text";
  if (value === "json") return "json";
  return usageError(help, `unknown output format "${value}" (text or json)`);
}

/** --bunkerconfig, else $BUNKERCONFIG, else ~/.bunker/config. */
export const BUNKERCONFIG_OPTION = { bunkerconfig: { type: "string" } } as const;
export const BUNKERCONFIG_HELP = "  --bunkerconfig PATH   client config file (default $BUNKERCONFIG, else ~/.bunker/config)";
export const clientConfigPath = (flag: string | undefined): string => flag ?? defaultClientConfigPath();

/** Prints an error from a failed operation and returns exit code 1. */
export function fail(e: unknown): number {
  console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
  return 1;
}
