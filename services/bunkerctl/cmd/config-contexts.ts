import { formatTable } from "../../../core/format/table.ts";
import { BUNKERCONFIG_HELP } from "../args.ts";
import { readClientConfigForOutput } from "../clientconfig-cmd.ts";

const HELP = `Usage: bunkerctl config contexts [-o text|json] [--bunkerconfig PATH]

Lists the contexts of the client config; * marks the current one.

Options:
  -o, --output FORMAT   text (default) or json
${BUNKERCONFIG_HELP}`;

export function run(argv: string[]): number {
  const r = readClientConfigForOutput(argv, HELP);
  if (typeof r === "number") return r;
  const { config: c, format } = r;
  const rows = Object.entries(c.contexts).map(([name, ctx]) => ({ current: name === c.context, name, endpoints: ctx.endpoints, nodes: ctx.nodes }));
  if (format === "json") {
    console.log(JSON.stringify(rows, null, 2));
    return 0;
  }
  console.log(formatTable(["CURRENT", "NAME", "ENDPOINTS", "NODES"], rows.map((r) => [r.current ? "*" : "", r.name, r.endpoints.join(","), r.nodes.join(",")])));
  return 0;
}
