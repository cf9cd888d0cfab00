/**
 * The conventions of every personality's command line over core/cli/args.ts: --help prints the
 * help and exits 0; a usage error prints what was wrong, the help's first line and where to read
 * more, and exits 2 (the whole help would bury the one line that matters).
 */
import { HELP_ASKED, parseFlags, UsageError, type Options, type Parsed } from "../core/cli/args.ts";

export type { Options, Parsed };

/** Parses argv for `prog`; returns the exit code instead when the program should stop here. */
export function parseCli<O extends Options>(prog: string, argv: string[], help: string, options: O, positionals: [number, number] = [0, 0]): Parsed<O> | number {
  let parsed;
  try {
    parsed = parseFlags(argv, options, positionals);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    return usageError(prog, help, e.message);
  }
  if (parsed === HELP_ASKED) {
    console.log(help);
    return 0;
  }
  return parsed;
}

export function usageError(prog: string, help: string, message: string): number {
  console.error(`${prog}: ${message}\n`);
  console.error(help.split("\n")[0]);
  console.error("(--help for more)");
  return 2;
}
