import { MachineService as M } from "../../../core/api/gen/services.ts";
import { usageError } from "../args.ts";
import { listFromNodes } from "../client/listing.ts";
import { formatBytes } from "../../../core/format/bytes.ts";
import { CONNECT_HELP, FORMAT_OPTION, formatOption, OUTPUT_HELP, runRemote } from "../client/remote.ts";

const HELP = `Usage: bunkerctl ps [--sort pid|cpu|rss] [-o table|json|yaml] [connection flags]

Lists each node's processes: pid, parent, state, threads, CPU time, memory and command line.

Options:
  --sort KEY                   pid (default), cpu (most first) or rss (most first)
${OUTPUT_HELP}

${CONNECT_HELP}`;

const SORTS = ["pid", "cpu", "rss"];

export function run(argv: string[]): Promise<number> {
  return runRemote(argv, HELP, { ...FORMAT_OPTION, sort: { type: "string" } }, [0, 0], async (a, r) => {
    const format = formatOption(a.values.output, HELP, ["table", "json", "yaml"]);
    if (typeof format === "number") return format;
    const sort = a.values.sort ?? "pid";
    if (!SORTS.includes(sort)) return usageError(HELP, `--sort ${sort}: expected ${SORTS.join(", ")}`);
    return listFromNodes(r, format, async (d) => {
      const ps = (await r.api.unary(M.Processes, {}, d)).processes ?? [];
      const key = (p: (typeof ps)[number]) => (sort === "cpu" ? -(p.cpuSeconds ?? 0) : sort === "rss" ? -Number(p.residentMemory ?? 0) : (p.pid ?? 0));
      return ps.sort((x, y) => key(x) - key(y));
    }, [
      ["PID", (p) => String(p.pid ?? "")], ["PPID", (p) => String(p.ppid ?? "")], ["STATE", (p) => p.state ?? ""],
      ["THREADS", (p) => String(p.threads ?? "")], ["CPU-TIME", (p) => (p.cpuSeconds ?? 0).toFixed(2)],
      ["VIRTMEM", (p) => formatBytes(Number(p.virtualMemory ?? 0))], ["RESMEM", (p) => formatBytes(Number(p.residentMemory ?? 0))],
      ["COMMAND", (p) => (p.args || p.command || "").slice(0, 120)],
    ]);
  });
}
