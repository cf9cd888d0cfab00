import { MachineService as M } from "../../../core/api/gen/services.ts";
import { usageError } from "../args.ts";
import { CONNECT_HELP, formatOption, runRemote } from "../client/remote.ts";
import { parseTail, streamFromNodes } from "../client/streaming.ts";

const HELP = `Usage: bunkerctl dmesg [-f] [--tail N] [-o text|json] [connection flags]

Prints the kernel log of each node (what the kernel keeps in its ring buffer), then, with -f,
new records until interrupted. Lines read "[seconds since boot] message".

Options:
  -f, --follow                 keep printing new records
  --tail N                     only the last N records (default: all the kernel keeps)
  -o, --output FORMAT          text (default) or json (one object per line)

${CONNECT_HELP}

Example:
  bunkerctl dmesg -f -n 10.5.0.2`;

const LEVELS = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"];

/** A kernel record as the command prints it (and support bundles keep it). */
export const kernelLine = (k: { monotonicUs?: number | null; priority?: number | null; message?: string | null }): string =>
  `[${(Number(k.monotonicUs ?? 0) / 1e6).toFixed(6).padStart(12)}] ${(LEVELS[k.priority ?? 6] ?? "").padEnd(7)} ${k.message ?? ""}`;

export function run(argv: string[]): Promise<number> {
  const options = { follow: { type: "boolean", short: "f" }, tail: { type: "string" }, output: { type: "string", short: "o" } } as const;
  return runRemote(argv, HELP, options, [0, 0], async (a, r) => {
    const format = formatOption(a.values.output, HELP);
    if (typeof format === "number") return format;
    const tail = parseTail(a.values.tail, 0);
    if (typeof tail === "string" || tail < 0) return usageError(HELP, typeof tail === "string" ? tail : "--tail: expected 0 or more");
    const follow = a.values.follow === true;
    return streamFromNodes(r, format,
      (d) => r.api.stream(M.Dmesg, { follow, tail }, d, follow ? {} : { timeoutMs: r.api.timeoutMs }),
      kernelLine);
  });
}
