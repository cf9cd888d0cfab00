import { buildInfo } from "../../../core/buildinfo/buildinfo.ts";
import { parseCommandArgs, usageError } from "../args.ts";
import { CONNECT_HELP, OUTPUT_HELP } from "../client/remote.ts";
import type { Command } from "../command.ts";
import { bashScript, choicesFromUsage, fishScript, flagsFromHelp, zshScript, type CommandSpec } from "../completion.ts";

const HELP = `Usage: bunkerctl completion bash|zsh|fish

Writes a completion script for the shell to standard output: command words, each command's
flags, and the choices of a first argument (file names where nothing else fits). It is made
from this binary's commands and their help, so regenerate it after an upgrade.

Examples:
  source <(bunkerctl completion bash)                      # bash, now
  bunkerctl completion bash > /etc/bash_completion.d/bunkerctl
  source <(bunkerctl completion zsh)                       # zsh, after compinit
  bunkerctl completion fish > ~/.config/fish/completions/bunkerctl.fish`;

const SHELLS = { bash: bashScript, zsh: zshScript, fish: fishScript } as const;

/** Each command's --help, as it prints it. */
async function helpOf(run: (argv: string[]) => Promise<number> | number): Promise<string> {
  const log = console.log;
  let text = "";
  console.log = (...a: unknown[]) => { text += `${a.join(" ")}\n`; };
  try {
    await run(["--help"]);
  } finally {
    console.log = log;
  }
  return text;
}

/** `commands`: the command list, handed over by commands.ts (which names this module) rather than imported back. */
export async function run(argv: string[], commands: readonly Command[]): Promise<number> {
  const a = parseCommandArgs(argv, HELP, {}, [1, 1]);
  if (typeof a === "number") return a;
  const shell = a.positionals[0]!;
  if (!Object.hasOwn(SHELLS, shell)) return usageError(HELP, `unknown shell "${shell}" (bash, zsh or fish)`);
  const specs: CommandSpec[] = [];
  for (const c of commands) {
    const help = await helpOf(c.run);
    specs.push({ path: c.path, summary: c.summary, flags: flagsFromHelp(help), choices: choicesFromUsage(help, c.path) });
  }
  process.stdout.write(SHELLS[shell as keyof typeof SHELLS](specs, flagsFromHelp(`${CONNECT_HELP}\n${OUTPUT_HELP}`), buildInfo().version));
  return 0;
}
