/**
 * The command line that runs this same program: the compiled binary alone, or under `bun` (in
 * tests and development) the interpreter plus the entry point, services/main.ts. init starts its
 * services with it, and `cluster create` its nodes and the port forwarder.
 */
import { resolve } from "node:path";

export function selfCommand(): string[] {
  if (Bun.main.startsWith("/$bunfs/") || Bun.main.startsWith("B:/~BUN/")) return [process.execPath];
  return [process.execPath, resolve(import.meta.dir, "../../services/main.ts")];
}
