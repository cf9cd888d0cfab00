/** `bunkerctl gen schema [-o FILE]` */
import { machineConfigJsonSchema } from "../../../core/config/jsonschema.ts";
import { writeFileAtomic } from "../../../core/fileio/atomic.ts";
import { parseCommandArgs } from "../args.ts";

const HELP = `Usage: bunkerctl gen schema [-o FILE]

Writes the JSON Schema (draft 2020-12) of the machine config, for editors: point the YAML
language server at it with a first line "# yaml-language-server: $schema=FILE". Without -o the
schema goes to standard output. Editors check types, keys and simple forms; bunkerctl validate
checks everything.`;

export function run(argv: string[]): number {
  const p = parseCommandArgs(argv, HELP, { output: { type: "string", short: "o" } });
  if (typeof p === "number") return p;
  const out = p.values.output;
  const text = JSON.stringify(machineConfigJsonSchema(), null, 2) + "\n";
  if (out === undefined || out === "-") {
    process.stdout.write(text);
    return 0;
  }
  try {
    writeFileAtomic(out, text, { overwrite: true });
  } catch (e) {
    console.error(`bunkerctl gen schema: cannot write ${out}: ${(e as Error).message}`);
    return 1;
  }
  console.error(`wrote ${out}`);
  return 0;
}
