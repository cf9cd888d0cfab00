import { loadClientConfig, mergeClientConfig } from "../../../core/clientconfig/clientconfig.ts";
import { BUNKERCONFIG_HELP, BUNKERCONFIG_OPTION, clientConfigPath, fail, parseCommandArgs } from "../args.ts";
import { editClientConfig } from "../clientconfig-cmd.ts";

const HELP = `Usage: bunkerctl config merge FILE [--bunkerconfig PATH]

Merges the contexts of FILE (e.g. the bunkerconfig written by "bunkerctl gen config") into the
client config, creating it if needed. A context whose name is taken by a different context is
added as NAME-1 (NAME-2, ...): nothing is overwritten. The merged file's current context
becomes the current one.

Options:
${BUNKERCONFIG_HELP}`;

export function run(argv: string[]): number {
  const a = parseCommandArgs(argv, HELP, { ...BUNKERCONFIG_OPTION }, [1, 1]);
  if (typeof a === "number") return a;
  let from;
  try {
    from = loadClientConfig(a.positionals[0]!);
  } catch (e) {
    return fail(e);
  }
  const path = clientConfigPath(a.values.bunkerconfig);
  return editClientConfig(path, (c) => {
    const m = mergeClientConfig(c, from);
    const lines = [
      ...m.added.map((n) => `added context "${n}"`),
      ...Object.entries(m.renamed).map(([o, n]) => `context "${o}" already exists with other settings: merged as "${n}"`),
      ...(m.added.length === 0 ? ["nothing new to merge"] : []),
      `current context: ${m.config.context || "(none)"}`,
      `wrote ${path}`,
    ];
    return { config: m.config, message: lines.join("\n") };
  }, true);
}
