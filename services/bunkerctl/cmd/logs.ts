import { MachineService as M } from "../../../core/api/gen/services.ts";
import { usageError } from "../args.ts";
import { isoTime } from "../client/output.ts";
import { CONNECT_HELP, formatOption, runRemote } from "../client/remote.ts";
import { parseTail, streamFromNodes } from "../client/streaming.ts";

const HELP = `Usage: bunkerctl logs ID [-f] [--tail N] [-o text|json] [connection flags]

Prints a service's log from each node: the last N lines kept (all by default), then, with -f,
new lines as they come until interrupted. With several nodes each line starts with its node.

Options:
  -f, --follow                 keep printing new lines
  --tail N                     only the last N lines kept (-1: all, the default)
  --timestamps                 prefix each line with the time it was read
  -o, --output FORMAT          text (default) or json (one object per line)

${CONNECT_HELP}

Examples:
  bunkerctl logs networkd --tail 20
  bunkerctl logs apid -f -n 10.5.0.2,10.5.0.3`;

export function run(argv: string[]): Promise<number> {
  const options = { follow: { type: "boolean", short: "f" }, tail: { type: "string" }, timestamps: { type: "boolean" }, output: { type: "string", short: "o" } } as const;
  return runRemote(argv, HELP, options, [1, 1], async (a, r) => {
    const format = formatOption(a.values.output, HELP);
    if (typeof format === "number") return format;
    const tail = parseTail(a.values.tail, -1);
    if (typeof tail === "string") return usageError(HELP, tail);
    const follow = a.values.follow === true;
    const ts = a.values.timestamps === true;
    return streamFromNodes(r, format,
      (d) => r.api.stream(M.Logs, { id: a.positionals[0]!, tail, follow }, d, follow ? {} : { timeoutMs: r.api.timeoutMs }),
      (e) => (ts ? `${isoTime(Number(e.time))} ` : "") + (e.message ?? ""));
  });
}
