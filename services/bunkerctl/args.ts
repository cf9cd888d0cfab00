/**
 * Flag parsing of bunkerctl commands: the one parser of every personality (services/cli.ts) with
 * bunkerctl's conventions (errors start with "error:"; -o/--output json where output is data;
 * the client config path).
 */
import { defaultClientConfigPath } from "../../core/clientconfig/clientconfig.ts";
import { parseCli, usageError as cliUsageError, type Options, type Parsed } from "../cli.ts";

export type { Parsed };

/**
 * Parses argv; returns the exit code instead when the command should stop here (help shown or
 * usage error). `positionals` is [min, max] of positional arguments allowed.
 */
export function parseCommandArgs<O extends Options>(argv: string[], help: string, options: O, positionals: [number, number] = [0, 0]): Parsed<O> | number {
  return parseCli("error", argv, help, options, positionals);
}

export function usageError(help: string, message: string): number {
  return cliUsageError("error", help, message);
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
