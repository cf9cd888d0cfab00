import type { Command } from "./command.ts";

/** Every bunkerctl subcommand, one line each; each loads its module only when chosen. */
export const commands: Command[] = [
  { path: ["validate"], summary: "check a machine config, listing every problem with its line:column", run: async (a) => (await import("./cmd/validate.ts")).run(a) },
  { path: ["gen", "schema"], summary: "write the JSON Schema of the machine config (for editors)", run: async (a) => (await import("./cmd/genschema.ts")).run(a) },
];
