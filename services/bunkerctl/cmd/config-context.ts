import { useContext } from "../../../core/clientconfig/clientconfig.ts";
import { BUNKERCONFIG_HELP, BUNKERCONFIG_OPTION, clientConfigPath, parseCommandArgs } from "../args.ts";
import { editClientConfig } from "../clientconfig-cmd.ts";

const HELP = `Usage: bunkerctl config context NAME [--bunkerconfig PATH]

Makes NAME the current context ("bunkerctl config contexts" lists them).

Options:
${BUNKERCONFIG_HELP}`;

export function run(argv: string[]): number {
  const a = parseCommandArgs(argv, HELP, { ...BUNKERCONFIG_OPTION }, [1, 1]);
  if (typeof a === "number") return a;
  const name = a.positionals[0]!;
  return editClientConfig(clientConfigPath(a.values.bunkerconfig), (c) => ({ config: useContext(c, name), message: `current context: ${name}` }));
}
