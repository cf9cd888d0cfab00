/** What the `bunkerctl config ...` commands share: load, edit and save the client config. */
import { loadClientConfig, saveClientConfig, setContextList, type ClientConfig } from "../../core/clientconfig/clientconfig.ts";
import { BUNKERCONFIG_HELP, BUNKERCONFIG_OPTION, clientConfigPath, fail, OUTPUT_OPTION, outputFormat, parseCommandArgs } from "./args.ts";

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

/** A `config` command that takes one NAME and edits the client config with it (context, remove). */
export function runNamedEdit(argv: string[], help: string, edit: (c: ClientConfig, name: string, path: string) => { config: ClientConfig; message: string }): number {
  const a = parseCommandArgs(argv, help, { ...BUNKERCONFIG_OPTION }, [1, 1]);
  if (typeof a === "number") return a;
  const path = clientConfigPath(a.values.bunkerconfig);
  return editClientConfig(path, (c) => edit(c, a.positionals[0]!, path));
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

/**
 * For read-only `config` commands whose output is data: parses --bunkerconfig and -o, loads the
 * client config, and returns it with the format (or the exit code when stopping here).
 */
export function readClientConfigForOutput(argv: string[], help: string): { config: ClientConfig; format: "text" | "json" } | number {
  const a = parseCommandArgs(argv, help, { ...BUNKERCONFIG_OPTION, ...OUTPUT_OPTION });
  if (typeof a === "number") return a;
  const format = outputFormat(a.values.output, help);
  if (typeof format === "number") return format;
  try {
    return { config: loadClientConfig(clientConfigPath(a.values.bunkerconfig)), format };
  } catch (e) {
    return fail(e);
  }
}
