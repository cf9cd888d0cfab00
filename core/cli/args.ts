/**
 * The one command-line parser of every personality (bunkerctl and its commands, diag, partition,
 * init, apid, networkd, trustd, verify-image): node:util's parseArgs in strict mode, options
 * declared as its `options` table, plus what they all share: -h/--help anywhere asks for help, a
 * count of positional arguments, and one typed error naming the flag or word at fault. It prints
 * nothing; services/cli.ts turns the outcome into output and exit codes.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { closest } from "../config/suggest.ts";

export type Options = NonNullable<ParseArgsConfig["options"]>;

type Value<T> = T extends { multiple: true } ? (T extends { type: "boolean" } ? boolean[] : string[]) : T extends { type: "boolean" } ? boolean : string;
export type Parsed<O extends Options> = { values: { [K in keyof O]?: Value<O[K]> }; positionals: string[] };

/** A command line that does not fit its declaration; the message names the flag or word. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** What parseFlags returns for `-h`/`--help`: help wins over any other mistake on the line. */
export const HELP_ASKED = "help" as const;

/**
 * Parses `argv` against `options`; `positionals` is [min, max] of positional arguments allowed.
 * Throws UsageError for an unknown flag, a missing value or a wrong count of arguments.
 */
export function parseFlags<O extends Options>(argv: string[], options: O, positionals: [number, number] = [0, 0]): Parsed<O> | typeof HELP_ASKED {
  // Only before "--": after it "-h" is an argument like any other.
  const end = argv.indexOf("--");
  const flags = end < 0 ? argv : argv.slice(0, end);
  if (flags.includes("--help") || flags.includes("-h")) return HELP_ASKED;
  // The tokens first, so that the error names the flag in our words (and the nearest real one)
  // rather than node's, which differ between runtimes.
  const { tokens } = parseArgs({ args: argv, options, allowPositionals: true, strict: false, tokens: true });
  for (const t of tokens) {
    if (t.kind !== "option") continue;
    const spec = Object.hasOwn(options, t.name) ? options[t.name] : undefined;
    if (!spec) {
      const near = t.rawName.startsWith("--") ? closest(t.name, [...Object.keys(options), "help"]) : undefined;
      throw new UsageError(`unknown option "${t.rawName}"${near ? `: did you mean "--${near}"?` : ""}`);
    }
    if (spec.type === "string" && t.value === undefined) throw new UsageError(`option ${t.rawName} needs a value`);
    if (spec.type === "boolean" && t.inlineValue) throw new UsageError(`option ${t.rawName} takes no value`);
  }
  let parsed: Parsed<O>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true }) as Parsed<O>;
  } catch (e) {
    // What the tokens allow and strict mode still refuses: a value that looks like a flag.
    throw new UsageError((e as Error).message);
  }
  const [min, max] = positionals;
  const n = parsed.positionals.length;
  if (n < min) throw new UsageError(`expected ${min === max ? min : `at least ${min}`} argument${min === 1 ? "" : "s"}, got ${n}`);
  if (n > max) throw new UsageError(`unexpected argument${n - max > 1 ? "s" : ""}: ${parsed.positionals.slice(max).join(" ")}`);
  return parsed;
}

/** Why `word` names no command of `prog`: one line, with the nearest of `names` when one is close. */
export function unknownCommand(prog: string, word: string, names: readonly string[], near = closest(word.split(" ").at(-1)!, names)): string {
  return `${prog}: unknown command "${word}"${near ? `: did you mean "${near}"?` : ""}`;
}
