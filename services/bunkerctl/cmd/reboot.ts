import { MachineService as M } from "../../../core/api/gen/services.ts";
import { usageError } from "../args.ts";
import { describe, machineStatus, waitForNewBoot } from "../client/machinestatus.ts";
import { parseDuration } from "../client/output.ts";
import { closedNote, powerCall } from "../client/power.ts";
import { CONNECT_HELP, runRemote } from "../client/remote.ts";

const HELP = `Usage: bunkerctl reboot [--mode default|powercycle|force] [--wait] [--wait-timeout DURATION]
                       [connection flags]

Reboots each node (os:operator or os:admin): services stop in order, volumes are unmounted,
then the machine restarts. The node answers first, then acts. With --wait, waits until each
node has started again and reports ready, showing its progress.

Options:
  --mode MODE                  default; powercycle (off and on where the platform can); force
                               (skip the graceful stop of services)
  --wait                       wait for the node to come back ready
  --wait-timeout DURATION      with --wait: how long (default 10m); exit code 6 when it passes

${CONNECT_HELP}

Example:
  bunkerctl reboot --wait -n 10.5.0.3`;

const MODES: Record<string, number> = { default: 0, powercycle: 1, force: 2 };

export function run(argv: string[]): Promise<number> {
  const options = { mode: { type: "string" }, wait: { type: "boolean" }, "wait-timeout": { type: "string" } } as const;
  return runRemote(argv, HELP, options, [0, 0], async (a, r) => {
    const mode = MODES[a.values.mode ?? "default"];
    if (mode === undefined) return usageError(HELP, `--mode ${a.values.mode}: expected default, powercycle or force`);
    const ms = parseDuration(a.values["wait-timeout"] ?? "10m");
    if (ms === undefined || ms <= 0) return usageError(HELP, `--wait-timeout ${a.values["wait-timeout"]}: expected a duration`);
    const { exit } = await r.each(async (d) => {
      // Which boot this is, to know when the node has started again (not just still answering).
      const before = a.values.wait ? (await machineStatus(r.api, d, r.api.timeoutMs)).created : 0;
      const answer = await powerCall(() => r.api.unary(M.Reboot, { mode }, d));
      console.log(`${d.label}: rebooting${closedNote(answer)}`);
      if (!a.values.wait) return;
      const s = await waitForNewBoot(r.api, d, before, ms);
      console.log(`${d.label}: back: ${describe(s)}`);
    });
    return exit;
  });
}
