/** What the `bunkerctl config ...` commands share: load, edit and save the client config. */
import { loadClientConfig, saveClientConfig, setContextList, type ClientConfig } from "../../core/clientconfig/clientconfig.ts";
import { BUNKERCONFIG_HELP, BUNKERCONFIG_OPTION, clientConfigPath, fail, parseCommandArgs } from "./args.ts";

/** Loads, applies `edit`, saves (0600, atomic) and prints `done`. */
export function editClientConfig(path: string, edit: (c: ClientConfig) => { config: ClientConfig; message: string }, allowMissing = false): number {
  try {
    const { config, message } = edit(loadClientConfig(path, { allowMissing }));
    saveClientConfig(path, config);
    console.log(message);
    return 0;
  } catch (e) {
    return fail(e);
  }
}

/** `config endpoint` and `config node`: replace one list of the current context. */
export function runSetList(argv: string[], field: "endpoints" | "nodes", word: string, what: string): number {
  const help = `Usage: bunkerctl config ${word} ADDRESS... [--bunkerconfig PATH]

Sets the ${field} of the current context: ${what}

Options:
${BUNKERCONFIG_HELP}`;
  const a = parseCommandArgs(argv, help, { ...BUNKERCONFIG_OPTION }, [1, 1000]);
  if (typeof a === "number") return a;
  const values = a.positionals.flatMap((p) => p.split(",")).map((s) => s.trim()).filter((s) => s !== "");
  return editClientConfig(clientConfigPath(a.values.bunkerconfig), (c) => {
    const config = setContextList(c, field, values);
    return { config, message: `context "${config.context}": ${field} ${values.join(", ")}` };
  });
}
