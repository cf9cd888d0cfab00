import { parse, stringify } from "yaml";
import { applyPatches, loadPatchArg, PatchError, type Json, type Patch } from "../../../core/configpatch/patch.ts";
import { usageError } from "../args.ts";
import { EXIT } from "../client/exitcodes.ts";
import { CONNECT_HELP, FORMAT_OPTION, runRemote } from "../client/remote.ts";
import { printApplyResults } from "./apply-config.ts";
import { APPLY_HELP, APPLY_OPTIONS, appliedConfig, commonArgs } from "./machineconfig.ts";

const HELP = `Usage: bunkerctl patch machineconfig [v1alpha1] -p PATCH [-p PATCH ...] [--mode MODE] [--dry-run]
                              [-o table|json|yaml] [connection flags]

Patches each node's machine config as it is applied (os:admin) and applies the result, as
apply-config does: the node checks it and reports every change and whether it applies live or
needs a reboot. TYPE may be machineconfig or mc.

A patch is a JSON merge patch (a mapping; null deletes a key) or a JSON patch (a list of
{op, path, value} operations), in YAML or JSON, given inline or as @FILE, as for
\`bunkerctl gen config --config-patch\`. Patches apply in order. The config is written out again
from its data, so comments in the node's copy are not kept (\`bunkerctl edit\` keeps them).

Options:
  -p, --patch PATCH            a patch, inline or @FILE (repeatable)
${APPLY_HELP}
  -o, --output FORMAT          table (default), json or yaml

${CONNECT_HELP}

Examples:
  bunkerctl patch mc -p @install-wipe.yaml --dry-run
  bunkerctl patch machineconfig -p '{"machine":{"network":{"hostname":"node7"}}}'
  bunkerctl patch mc -p '[{"op":"add","path":"/machine/certSANs/-","value":"api.example.com"}]' -n 10.5.0.2,10.5.0.3`;

export function run(argv: string[]): Promise<number> {
  const options = { ...FORMAT_OPTION, ...APPLY_OPTIONS, patch: { type: "string", short: "p", multiple: true } } as const;
  return runRemote(argv, HELP, options, [1, 2], async (a, r) => {
    const v = a.values;
    const c = commonArgs(a.positionals, v, HELP);
    if (typeof c === "number") return c;
    const { format, mode } = c;
    if (!v.patch?.length) return usageError(HELP, "-p/--patch PATCH is required");
    let patches: Patch[];
    try {
      patches = v.patch.flatMap((p) => loadPatchArg(p));
    } catch (e) {
      if (!(e instanceof PatchError)) throw e;
      console.error(`error: ${e.message}`);
      return EXIT.USAGE;
    }
    const dryRun = v["dry-run"] === true;
    const { results, exit } = await r.each(async (d) => {
      const current = parse(await appliedConfig(r, d)) as Json;
      // A patch that does not fit this node's config (a JSON patch's path absent) is this node's failure.
      const next = applyPatches(current, patches);
      return r.api.apply({ data: new TextEncoder().encode(stringify(next)), mode, dryRun }, d);
    });
    printApplyResults(format, results, dryRun);
    return exit;
  });
}
