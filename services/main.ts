/**
 * The entry point of the one binary. It plays the personality named by the basename of argv[0]
 * (`process.argv0`: `process.argv[0]` is always "bun" in a compiled binary), or, invoked as
 * `bunker`, the personality named by its first argument.
 */
import { basename } from "node:path";
import { buildInfo } from "../core/buildinfo/buildinfo.ts";
import { findPersonality, personalities, aliases, planned } from "./personalities.ts";

/** Names under which the binary is itself rather than one personality. */
const MULTICALL_NAMES = new Set(["bunker", "bun", "main", "main.ts"]);

function usage(): string {
  const width = Math.max(...personalities.map((p) => p.name.length));
  const lines = personalities.map((p) => `  ${p.name.padEnd(width)}  ${p.summary}`);
  const alias = Object.entries(aliases).map(([a, p]) => `${a} = ${p}`).join(", ");
  return [
    `Bunker ${buildInfo().version}: one binary, many personalities.`,
    "",
    "Usage: bunker PERSONALITY [ARGS...]   or   PERSONALITY [ARGS...] (through a link named after it)",
    "",
    "Personalities:",
    ...lines,
    ...(alias ? ["", `Aliases: ${alias}`] : []),
    ...(planned.length > 0 ? ["", "Not built yet in this version:", ...planned.map((p) => `  ${p.name.padEnd(width)}  ${p.summary}`)] : []),
    "",
    "Every personality answers --help.",
  ].join("\n");
}

export async function dispatch(invokedAs: string, args: string[]): Promise<number> {
  let name = basename(invokedAs);
  if (MULTICALL_NAMES.has(name)) {
    const first = args[0];
    if (first === undefined || first === "--help" || first === "-h" || first === "help") {
      console.log(usage());
      return first === undefined ? 1 : 0;
    }
    if (first === "--version") name = "version";
    else name = first;
    args = args.slice(1);
  }
  const personality = findPersonality(name);
  const notYet = planned.find((p) => p.name === name);
  if (!personality && notYet) {
    console.error(`bunker: ${name} (${notYet.summary}) is not built yet in Bunker ${buildInfo().version}`);
    return 1;
  }
  if (!personality) {
    console.error(`bunker: unknown personality "${name}"\n`);
    console.error(usage());
    return 1;
  }
  const { main } = await personality.load();
  return await main(args);
}

// No top-level await: --bytecode compiles the bundle as CommonJS.
if (import.meta.main) {
  dispatch(process.argv0, process.argv.slice(2)).then(
    // Personalities that keep serving (init, apid) resolve only when they are done.
    (code) => { process.exitCode = code; },
    (err) => { console.error(`bunker: ${err instanceof Error ? err.stack ?? err.message : String(err)}`); process.exitCode = 70; },
  );
}
