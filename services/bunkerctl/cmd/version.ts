import { buildInfo } from "../../../core/buildinfo/buildinfo.ts";
import { MachineService as M } from "../../../core/api/gen/services.ts";
import { listFromNodes } from "../client/listing.ts";
import { CONNECT_HELP, FORMAT_OPTION, formatOption, OUTPUT_HELP, runRemote } from "../client/remote.ts";

const HELP = `Usage: bunkerctl version [--client] [-o table|json|yaml] [connection flags]

Shows what each node runs: Bunker version, commit, Bun, architecture, kernel, hostname, and
whether it is in maintenance mode. Answered in maintenance mode too (with --insecure).

Options:
  --client                     only this client's version; no node is asked
${OUTPUT_HELP}

${CONNECT_HELP}

Examples:
  bunkerctl version -n 10.5.0.2,10.5.0.3
  bunkerctl version --insecure -n 10.5.0.9`;

export async function run(argv: string[]): Promise<number> {
  if (!argv.includes("--help") && !argv.includes("-h")) {
    const local = clientVersion(argv);
    if (local !== undefined) return local;
  }
  return runRemote(argv, HELP, { client: { type: "boolean" }, ...FORMAT_OPTION }, [0, 0], async (a, r) => {
    const format = formatOption(a.values.output, HELP, ["table", "json", "yaml"]);
    if (typeof format === "number") return format;
    return listFromNodes(r, format, async (d) => [await r.api.unary(M.Version, {}, d)], [
      ["VERSION", (v) => v.version ?? ""], ["COMMIT", (v) => v.commit ?? ""], ["BUN", (v) => v.bunVersion ?? ""],
      ["ARCH", (v) => v.arch ?? ""], ["KERNEL", (v) => v.kernel ?? ""], ["HOSTNAME", (v) => v.hostname ?? ""],
      ["MAINTENANCE", (v) => (v.maintenance ? "yes" : "no")],
    ]);
  });
}

/** `--client` is answered without any config or node. */
export function clientVersion(argv: string[]): number | undefined {
  if (!argv.includes("--client")) return undefined;
  const info = buildInfo();
  if (argv.some((x) => x === "json" || x === "-ojson" || x === "--output=json")) console.log(JSON.stringify(info, null, 2));
  else console.log(`Client: Bunker ${info.version} (commit ${info.commit}, bun ${info.bun}, built ${info.built})`);
  return 0;
}
