import type { ReadStream, WriteStream } from "node:tty";
import { usageError } from "../args.ts";
import { CONNECT_HELP, runRemote } from "../client/remote.ts";
import { parseDuration } from "../client/output.ts";
import { wantColor } from "../../dashboard/render.ts";
import type { Caller } from "../../dashboard/source.ts";
import { runOnTerminal } from "../../dashboard/terminal.ts";

const HELP = `Usage: bunkerctl dashboard [-n NODE,...] [--interval DURATION] [--log SOURCE] [--no-color] [connection flags]

The node's dashboard in this terminal, through the API (os:reader is enough): hostname,
version, stage and readiness with the conditions not met, addresses and routes, CPU, memory
and load, services with state and health, and a log pane; refreshed every --interval.

Keys:
  [ ] or 1..9   previous / next node, or node N (in the order of -n)
  l, Tab / L    next / previous log source: kernel, then each service
  Ctrl-L        redraw
  q, Ctrl-C     quit

Options:
  --interval DURATION  time between refreshes (default 2s)
  --log SOURCE         the log pane's first source: kernel (default) or a service id
  --no-color           no colours (also with NO_COLOR set, or TERM dumb or unset)

${CONNECT_HELP}

Example:
  bunkerctl dashboard -n 10.5.0.2,10.5.0.3`;

export function run(argv: string[]): Promise<number> {
  return runRemote(argv, HELP, { interval: { type: "string" }, log: { type: "string" }, "no-color": { type: "boolean" } }, [0, 0], async (a, r) => {
    const intervalMs = a.values.interval === undefined ? 2000 : parseDuration(a.values.interval);
    if (intervalMs === undefined || intervalMs <= 0) return usageError(HELP, `--interval ${a.values.interval}: expected a duration such as 2s or 500ms`);
    if (!process.stdin.isTTY || !process.stdout.isTTY) return usageError(HELP, "the dashboard needs a terminal; for plain output use `bunkerctl services`, `get machinestatus`, `logs`");
    const callers = r.dests.map((d): Caller => ({
      unary: (m, req, o) => r.api.unary(m, req, d, o),
      stream: (m, req, o) => r.api.stream(m, req, d, o),
    }));
    await runOnTerminal(process.stdin as ReadStream, process.stdout as WriteStream, {
      nodes: r.dests.map((d) => d.label), caller: (i) => callers[i]!, intervalMs, timeoutMs: Math.min(r.api.timeoutMs, Math.max(5000, intervalMs)),
      color: a.values["no-color"] !== true && wantColor(process.env), log: a.values.log,
    });
    return 0;
  });
}
