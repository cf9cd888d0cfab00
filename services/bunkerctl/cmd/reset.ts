import { MachineService as M } from "../../../core/api/gen/services.ts";
import { usageError } from "../args.ts";
import { splitList } from "../client/target.ts";
import { closedNote, powerCall } from "../client/power.ts";
import { CONNECT_HELP, runRemote } from "../client/remote.ts";

const HELP = `Usage: bunkerctl reset [--graceful=false] [--wipe STATE,EPHEMERAL] [--reboot] [connection flags]

Wipes each node's volumes so it comes back in maintenance mode, as if new (os:admin only):
its config (STATE) and its data (EPHEMERAL) are emptied; the installed image (boot slots,
bootloader, META) stays. Then it powers off, or reboots with --reboot.

Options:
  --graceful=false             do not leave etcd nor stop services in order first: wipe at
                               once (they stop on the way to the power action); --graceful
                               (the default) has a control plane leave etcd (it joins again
                               once configured again), then stops services before their data
                               goes
  --wipe LABEL[,LABEL]         the volumes to wipe: STATE, EPHEMERAL (default both)
  --reboot                     reboot afterwards instead of powering off

${CONNECT_HELP}

Example:
  bunkerctl reset --reboot -n 10.5.0.3
  bunkerctl reset --graceful=false --wipe EPHEMERAL -n 10.5.0.3`;

const VOLUMES = ["STATE", "EPHEMERAL"];

export function run(argv: string[]): Promise<number> {
  const options = { graceful: { type: "boolean" }, "no-graceful": { type: "boolean" }, wipe: { type: "string", multiple: true }, reboot: { type: "boolean" } } as const;
  // --graceful=false reads as its operators write it; a boolean option takes no value otherwise.
  const args = argv.map((x) => (x === "--graceful=false" ? "--no-graceful" : x === "--graceful=true" ? "--graceful" : x));
  return runRemote(args, HELP, options, [0, 0], async (a, r) => {
    const wipe = splitList(a.values.wipe).map((w) => w.toUpperCase());
    const bad = wipe.filter((w) => !VOLUMES.includes(w));
    if (bad.length) return usageError(HELP, `--wipe ${bad.join(",")}: known volumes are ${VOLUMES.join(", ")}`);
    if (a.values.graceful && a.values["no-graceful"]) return usageError(HELP, "--graceful and --graceful=false: choose one");
    const req = { graceful: a.values["no-graceful"] !== true, reboot: a.values.reboot === true, wipeVolumes: wipe };
    const { results, exit } = await r.each((d) => powerCall(() => r.api.unary(M.Reset, req, d)));
    for (const { d, value } of results) console.log(`${d.label}: resetting (${wipe.length ? wipe.join(", ") : VOLUMES.join(", ")}), then ${req.reboot ? "reboot" : "power off"}${closedNote(value)}`);
    return exit;
  });
}
