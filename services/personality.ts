/**
 * The contract every personality of the one binary fulfils: a folder under services/ with a
 * main.ts exporting `main(argv)`, which returns the process exit code. argv holds the arguments
 * after the personality's name. A personality owns its process: it may listen, spawn and log;
 * the libraries under core/ may not.
 */
export type Main = (argv: string[]) => Promise<number> | number;

export interface Personality {
  /** The name the binary answers to (basename of argv[0], or `bunker NAME`). */
  name: string;
  /** One line for the list of personalities. */
  summary: string;
  /** Loaded lazily so that one personality's start-up never pays for another's imports. */
  load: () => Promise<{ main: Main }>;
}
