import { MachineService as M } from "../../../core/api/gen/services.ts";
import { usageError } from "../args.ts";
import { isoTime } from "../client/output.ts";
import { CONNECT_HELP, formatOption, runRemote } from "../client/remote.ts";
import { parseTail, streamFromNodes } from "../client/streaming.ts";

const HELP = `Usage: bunkerctl events [-f] [--since ID] [--tail N] [-o text|json] [connection flags]

Prints the machine's events (boot phases, service states, config changes, ...), oldest first,
then, with -f, new ones until interrupted. Each line shows its id: pass it to --since to go on
from there.

Options:
  -f, --follow                 keep printing new events
  --since ID                   only the events after this id
  --tail N                     without --since: only the last N events (-1: all kept, the default)
  -o, --output FORMAT          text (default) or json (one object per line)

${CONNECT_HELP}

Examples:
  bunkerctl events --tail 20
  bunkerctl events -f --since 0000000042`;

export function run(argv: string[]): Promise<number> {
  const options = { follow: { type: "boolean", short: "f" }, since: { type: "string" }, tail: { type: "string" }, output: { type: "string", short: "o" } } as const;
  return runRemote(argv, HELP, options, [0, 0], async (a, r) => {
    const format = formatOption(a.values.output, HELP);
    if (typeof format === "number") return format;
    const tail = parseTail(a.values.tail, -1);
    if (typeof tail === "string") return usageError(HELP, tail);
    const follow = a.values.follow === true;
    return streamFromNodes(r, format,
      (d) => r.api.stream(M.Events, { sinceId: a.values.since ?? "", tailEvents: tail, follow }, d, follow ? {} : { timeoutMs: r.api.timeoutMs }),
      (e) => `${e.id}  ${isoTime(Number(e.time))}  ${(e.source ?? "").padEnd(16)} ${e.message ?? ""}`);
  });
}
