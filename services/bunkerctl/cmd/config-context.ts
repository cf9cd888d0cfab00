import { useContext } from "../../../core/clientconfig/clientconfig.ts";
import { BUNKERCONFIG_HELP } from "../args.ts";
import { runNamedEdit } from "../clientconfig-cmd.ts";

const HELP = `Usage: bunkerctl config context NAME [--bunkerconfig PATH]

Makes NAME the current context ("bunkerctl config contexts" lists them).

Options:
${BUNKERCONFIG_HELP}`;

export function run(argv: string[]): number {
  return runNamedEdit(argv, HELP, (c, name) => ({ config: useContext(c, name), message: `current context: ${name}` }));
}
