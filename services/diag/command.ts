/** A `diag` subcommand: one file under services/diag/cmd/, one line in commands.ts. */
export interface DiagCommand {
  name: string;
  summary: string;
  /** Returns the exit code: 0 success, 1 the operation failed, 2 bad usage. */
  run: (argv: string[]) => Promise<number> | number;
}
