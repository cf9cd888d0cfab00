import { MachineService as M } from "../../../core/api/gen/services.ts";
import { usageError } from "../args.ts";
import { CONNECT_HELP, runRemote } from "../client/remote.ts";

const HELP = `Usage: bunkerctl bootstrap -n CONTROLPLANE [connection flags]

Starts a new etcd cluster on exactly one control plane (os:admin); every other control plane
then joins it by itself. Once per cluster: refused, with the reason, when the node already has
etcd data, when etcd already runs there, when another control plane already answers as an etcd
member, on a worker, and where no etcd is installed.

${CONNECT_HELP}

Example:
  bunkerctl bootstrap -n 10.5.0.2`;

export function run(argv: string[]): Promise<number> {
  return runRemote(argv, HELP, {}, [0, 0], async (_a, r) => {
    // One node, never several: two bootstraps would make two clusters.
    if (r.dests.length !== 1) return usageError(HELP, `bootstrap starts etcd on exactly one control plane; name it with -n (got ${r.dests.length} nodes)`);
    const d = r.dests[0]!;
    const answer = await r.api.unary(M.Bootstrap, {}, d);
    console.log(`${d.label}: ${answer.message}`);
    return 0;
  });
}
