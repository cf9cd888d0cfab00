/** `bunkerctl gen schema [-o FILE]` */
import { machineConfigJsonSchema } from "../../../core/config/jsonschema.ts";
import { writeFileAtomic } from "../../../core/fileio/atomic.ts";
import { optionValue, runCommand, UsageError } from "./args.ts";

const HELP = `Usage: bunkerctl gen schema [-o FILE]

Writes the JSON Schema (draft 2020-12) of the machine config, for editors: point the YAML
language server at it with a first line "# yaml-language-server: $schema=FILE". Without -o the
schema goes to standard output. Editors check types, keys and simple forms; bunkerctl validate
checks everything.`;

export function run(argv: string[]): number {
  return runCommand("gen schema", HELP, argv, [{ name: "output", short: "o", value: true }], (p) => {
    if (p.positional.length > 0) throw new UsageError(`unexpected argument "${p.positional[0]}"`);
    const out = optionValue(p, "output");
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
  });
}
