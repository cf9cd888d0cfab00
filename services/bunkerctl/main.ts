import type { Command } from "./command.ts";
import { commands } from "./commands.ts";
import { CONNECT_OPTIONS } from "./client/remote.ts";
import { unknownCommand as unknownCommandLine } from "../../core/cli/args.ts";
import { closest } from "../../core/config/suggest.ts";

/**
 * Flags a command takes wherever they stand, also before its name (`bunkerctl -n NODE version`,
 * as talosctl and kubectl users write it): the connection flags and -o. They are handed to the
 * command with its own arguments, so its parser checks them (a command without -n refuses it).
 */
const GLOBAL_FLAGS: Record<string, { type: "string" | "boolean"; short?: string }> = { ...CONNECT_OPTIONS, output: { type: "string", short: "o" } };

/** Splits the global flags written before the command (with their values) from the words after them. */
export function leadingGlobalFlags(argv: string[]): { flags: string[]; words: string[] } {
  let i = 0;
  while (i < argv.length) {
    const a = argv[i]!;
    let name: string | undefined;
    let inline = false;
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      inline = eq >= 0;
    } else if (/^-[A-Za-z]/.test(a)) {
      name = Object.keys(GLOBAL_FLAGS).find((k) => GLOBAL_FLAGS[k]!.short === a[1]);
      inline = a.length > 2;
    }
    const spec = name === undefined || !Object.hasOwn(GLOBAL_FLAGS, name) ? undefined : GLOBAL_FLAGS[name];
    if (!spec) break;
    i += spec.type === "string" && !inline ? 2 : 1;
  }
  return { flags: argv.slice(0, i), words: argv.slice(i) };
}

const GLOBAL_LIST = Object.entries(GLOBAL_FLAGS).map(([k, o]) => (o.short ? `-${o.short}/--${k}` : `--${k}`)).join(", ");

/** Why `words` name no command, in a line or two: the nearest command when one is close. */
export function unknownCommand(words: string[]): string {
  const more = "(bunkerctl --help lists the commands)";
  const first = words[0]!;
  if (first.startsWith("-")) {
    return `bunkerctl: "${first}" is not a global flag (${GLOBAL_LIST}): write it after the command\n${more}`;
  }
  const group = commands.filter((c) => c.path[0] === first && c.path.length > 1);
  const line = group.length > 0 && words.length > 1
    ? unknownCommandLine("bunkerctl", `${first} ${words[1]}`, [], closest(words[1]!, group.map((c) => c.path[1]!))?.replace(/^/, `${first} `))
    : unknownCommandLine("bunkerctl", first, [...new Set(commands.map((c) => c.path[0]!))]);
  return `${line}\n${more}`;
}

function usage(list: Command[]): string {
  const names = list.map((c) => c.path.join(" "));
  const width = Math.max(0, ...names.map((n) => n.length));
  return [
    "Usage: bunkerctl COMMAND [ARGS...]   (also: bunker ctl COMMAND ...)",
    "",
    "The remote client of Bunker nodes.",
    "",
    "Commands:",
    ...list.map((c, i) => `  ${names[i]!.padEnd(width)}  ${c.summary}`),
    "",
    "Every command answers --help. Exit codes: 0 ok, 1 the node answered with an error, 2 usage,",
    "3 client config, 4 node unreachable, 5 refused (certificate or role), 6 a wait timed out.",
  ].join("\n");
}

/** The command whose path is the longest prefix of argv. */
export function resolveCommand(argv: string[]): { cmd: Command; rest: string[] } | undefined {
  let best: Command | undefined;
  for (const c of commands) {
    if (c.path.every((w, i) => argv[i] === w) && (!best || c.path.length > best.path.length)) best = c;
  }
  return best ? { cmd: best, rest: argv.slice(best.path.length) } : undefined;
}

export async function main(argv: string[]): Promise<number> {
  const { flags, words } = leadingGlobalFlags(argv);
  if (words.length === 0 || words[0] === "--help" || words[0] === "-h" || words[0] === "help") {
    console.log(usage(commands));
    return words.length === 0 ? 2 : 0;
  }
  const found = resolveCommand(words);
  if (!found) {
    // A group word alone (`bunkerctl gen`) lists what it holds.
    const group = commands.filter((c) => c.path[0] === words[0]);
    if (group.length > 0 && (words.length === 1 || words[1]!.startsWith("-"))) {
      console.log(usage(group));
      return words.length === 1 || words[1] === "--help" || words[1] === "-h" ? 0 : 2;
    }
    console.error(unknownCommand(words));
    return 2;
  }
  const code = await found.cmd.run([...flags, ...found.rest]);
  // The runtime can keep the socket of a connection the node never answered (a peer that took
  // TCP but never finished TLS) open after the client closed it; a command is over when it
  // returns, so leave then even if such a handle remains. Unref'd: an idle process exits first.
  setTimeout(() => process.exit(code), 250).unref();
  return code;
}
