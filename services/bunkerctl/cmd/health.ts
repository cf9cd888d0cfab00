import { usageError } from "../args.ts";
import { describe, waitFor } from "../client/machinestatus.ts";
import { parseDuration } from "../client/output.ts";
import { CONNECT_HELP, runRemote } from "../client/remote.ts";

const HELP = `Usage: bunkerctl health [--wait-timeout DURATION] [connection flags]

Waits until every node reports ready (its MachineStatus: stage running, every condition met),
printing each change of its state as it goes: the stage and the conditions still unmet. A node
that does not answer yet is retried until the timeout.

Exit codes: 0 every node ready; 6 the timeout passed first; 5 the credentials were refused.

Options:
  --wait-timeout DURATION      how long to wait (default 5m)

${CONNECT_HELP}

Example:
  bunkerctl health -n 10.5.0.2,10.5.0.3 --wait-timeout 10m`;

export function run(argv: string[]): Promise<number> {
  return runRemote(argv, HELP, { "wait-timeout": { type: "string" } }, [0, 0], async (a, r) => {
    const ms = parseDuration(a.values["wait-timeout"] ?? "5m");
    if (ms === undefined || ms <= 0) return usageError(HELP, `--wait-timeout ${a.values["wait-timeout"]}: expected a duration such as 30s or 5m`);
    const deadline = Date.now() + ms;
    const { exit } = await r.each(async (d) => {
      const s = await waitFor(r.api, d, deadline, (x) => x.ready, (line) => console.log(`${d.label}: ${line}`));
      console.log(`${d.label}: ${describe(s)}`);
    });
    return exit;
  });
}
