/**
 * A small option parser shared by bunkerctl commands: `-f X`, `--file X`, `--file=X`, `-oX`,
 * flags, and positional arguments. Unknown options are a usage error naming the option.
 */
export interface OptionSpec {
  /** Long name without dashes, e.g. "file". */
  name: string;
  /** One-letter alias, e.g. "f". */
  short?: string;
  /** Takes a value (otherwise a boolean flag). */
  value?: boolean;
}

export interface ParsedArgs {
  options: Map<string, string | true>;
  positional: string[];
}

export class UsageError extends Error {}

export function parseArgs(argv: string[], specs: OptionSpec[]): ParsedArgs {
  const options = new Map<string, string | true>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") { positional.push(...argv.slice(i + 1)); break; }
    if (!a.startsWith("-") || a === "-") { positional.push(a); continue; }
    let spec: OptionSpec | undefined;
    let inline: string | undefined;
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      if (eq >= 0) inline = a.slice(eq + 1);
      spec = specs.find((s) => s.name === name);
    } else {
      spec = specs.find((s) => s.short === a[1]);
      if (a.length > 2) inline = a.slice(2);
    }
    if (!spec) throw new UsageError(`unknown option "${a}"`);
    if (!spec.value) {
      if (inline !== undefined) throw new UsageError(`option --${spec.name} takes no value`);
      options.set(spec.name, true);
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`option --${spec.name} needs a value`);
    options.set(spec.name, value);
  }
  return { options, positional };
}

/** The value of a string option, or undefined. */
export function optionValue(p: ParsedArgs, name: string): string | undefined {
  const v = p.options.get(name);
  return typeof v === "string" ? v : undefined;
}

/**
 * The common frame of a command: parse argv, answer --help, turn a UsageError into its message
 * plus the help text and exit 2. `body` gets the parsed arguments and returns the exit code.
 */
export function runCommand(name: string, help: string, argv: string[], specs: OptionSpec[], body: (p: ParsedArgs) => number): number {
  let parsed: ParsedArgs;
  try {
    parsed = parseArgs(argv, [...specs, { name: "help", short: "h" }]);
    if (parsed.options.has("help")) {
      console.log(help);
      return 0;
    }
    return body(parsed);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`bunkerctl ${name}: ${e.message}\n\n${help}`);
    return 2;
  }
}
