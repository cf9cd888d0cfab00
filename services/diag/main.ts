/**
 * `diag`: what an operator can ask the node directly on its console, with no API: links,
 * addresses, routes (rtnetlink), processes, mounts, sockets, memory, the kernel log (core/procfs)
 * and disks (core/disks), straight from the kernel.
 */
import { unknownCommand } from "../../core/cli/args.ts";
import { commands } from "./commands.ts";

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    "Usage: diag COMMAND [-o table|json]   (also: bunker diag COMMAND ...)",
    "",
    "Console diagnostics, read straight from the kernel.",
    "",
    "Commands:",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Every command answers --help.",
  ].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const first = argv[0];
  if (first === undefined || first === "--help" || first === "-h" || first === "help") {
    console.log(usage());
    return first === undefined ? 2 : 0;
  }
  const cmd = commands.find((c) => c.name === first);
  if (!cmd) {
    console.error(`${unknownCommand("diag", first, commands.map((c) => c.name))}\n(diag --help lists the commands)`);
    return 2;
  }
  return await cmd.run(argv.slice(1));
}
