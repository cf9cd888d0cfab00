import type { Command } from "./command.ts";

/** Every bunkerctl subcommand, one line each; each loads its module only when chosen. */
export const commands: Command[] = [
];
