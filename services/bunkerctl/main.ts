import type { Command } from "./command.ts";
import { commands } from "./commands.ts";

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
  if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h" || argv[0] === "help") {
    console.log(usage(commands));
    return argv.length === 0 ? 2 : 0;
  }
  const found = resolveCommand(argv);
  if (!found) {
    // A group word alone (`bunkerctl gen`) lists what it holds.
    const group = commands.filter((c) => c.path[0] === argv[0]);
    if (group.length > 0) {
      console.log(usage(group));
      return argv.length > 1 ? 2 : 0;
    }
    console.error(`bunkerctl: unknown command "${argv.join(" ")}"\n`);
    console.error(usage(commands));
    return 2;
  }
  const code = await found.cmd.run(found.rest);
  // The runtime can keep the socket of a connection the node never answered (a peer that took
  // TCP but never finished TLS) open after the client closed it; a command is over when it
  // returns, so leave then even if such a handle remains. Unref'd: an idle process exits first.
  setTimeout(() => process.exit(code), 250).unref();
  return code;
}
