/** A `bunkerctl` subcommand: one file under services/bunkerctl/cmd/, one line in commands.ts. */
export interface Command {
  /** The words that select it, e.g. ["gen", "config"] for `bunkerctl gen config`. */
  path: string[];
  summary: string;
  /** Returns the exit code: 0 success, 1 the operation failed, 2 bad usage. */
  run: (argv: string[]) => Promise<number> | number;
}
