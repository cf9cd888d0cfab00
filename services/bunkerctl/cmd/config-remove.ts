import { removeContext } from "../../../core/clientconfig/clientconfig.ts";
import { BUNKERCONFIG_HELP } from "../args.ts";
import { runNamedEdit } from "../clientconfig-cmd.ts";

const HELP = `Usage: bunkerctl config remove NAME [--bunkerconfig PATH]

Removes a context (its endpoints, nodes and credentials) from the client config. When it was
the current context, none is current afterwards: choose one with \`bunkerctl config context\`.

Options:
${BUNKERCONFIG_HELP}`;

export function run(argv: string[]): number {
  return runNamedEdit(argv, HELP, (c, name, path) => {
    const config = removeContext(c, name);
    const left = Object.keys(config.contexts);
    const current = config.context ? `current context: ${config.context}` : `no current context${left.length ? `; choose one of ${left.join(", ")} with \`bunkerctl config context NAME\`` : ""}`;
    return { config, message: `removed context "${name}"\n${current}\nwrote ${path}` };
  });
}
