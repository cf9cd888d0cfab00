import { MachineService as M } from "../../../core/api/gen/services.ts";
import { closedNote, powerCall } from "../client/power.ts";
import { CONNECT_HELP, runRemote } from "../client/remote.ts";

const HELP = `Usage: bunkerctl shutdown [--force] [connection flags]

Powers each node off (os:operator or os:admin): services stop in order, volumes are unmounted,
then the machine powers off. The node answers first, then acts.

Options:
  --force                      skip the graceful stop of services

${CONNECT_HELP}`;

export function run(argv: string[]): Promise<number> {
  return runRemote(argv, HELP, { force: { type: "boolean" } }, [0, 0], async (a, r) => {
    const { results, exit } = await r.each((d) => powerCall(() => r.api.unary(M.Shutdown, { force: a.values.force === true }, d)));
    for (const { d, value } of results) console.log(`${d.label}: shutting down${closedNote(value)}`);
    return exit;
  });
}
