import { MachineService as M } from "../../../core/api/gen/services.ts";
import { usageError } from "../args.ts";
import { describe, machineStatus, waitForNewBoot } from "../client/machinestatus.ts";
import { parseDuration } from "../client/output.ts";
import { closedNote, powerCall } from "../client/power.ts";
import { CONNECT_HELP, runRemote } from "../client/remote.ts";
import { bootLine } from "./upgrade.ts";

const HELP = `Usage: bunkerctl rollback [--force] [--wait] [--wait-timeout DURATION] [connection flags]

Makes each node boot its other slot (the system it ran before the last upgrade) and reboots it
(os:admin). Refused on a node not booted from an installed disk, when the other slot holds
no system, and when its image's security version is below the node's floor (the highest it has
confirmed booting) unless --force.

Options:
  --force                      roll back even to an image below the node's security version
                               floor (a deliberate downgrade; the node records it as an event)
  --wait                       wait until each node has booted again (running or maintenance),
                               and say which slot and image it runs
  --wait-timeout DURATION      with --wait: how long (default 15m); exit code 6 when it passes

${CONNECT_HELP}

Example:
  bunkerctl rollback --wait -n 10.5.0.3`;

export function run(argv: string[]): Promise<number> {
  const options = { force: { type: "boolean" }, wait: { type: "boolean" }, "wait-timeout": { type: "string" } } as const;
  return runRemote(argv, HELP, options, [0, 0], async (a, r) => {
    const waitMs = parseDuration(a.values["wait-timeout"] ?? "15m");
    if (waitMs === undefined || waitMs <= 0) return usageError(HELP, `--wait-timeout ${a.values["wait-timeout"]}: expected a duration`);
    const { exit } = await r.each(async (d) => {
      const before = a.values.wait ? (await machineStatus(r.api, d, r.api.timeoutMs)).created : 0;
      const answer = await powerCall(() => r.api.unary(M.Rollback, { force: a.values.force === true }, d));
      console.log(`${d.label}: ${answer === "closed" ? "rolling back" : answer.message}${closedNote(answer)}`);
      if (!a.values.wait) return;
      const s = await waitForNewBoot(r.api, d, before, waitMs, "booted");
      console.log(`${d.label}: back: ${describe(s)}; ${await bootLine(r.api, d)}`);
    });
    return exit;
  });
}
