import { MachineService as M } from "../../../core/api/gen/services.ts";
import { usageError } from "../args.ts";
import { CONNECT_HELP, runRemote } from "../client/remote.ts";

const HELP = `Usage: bunkerctl read PATH [connection flags]

Writes a file of one node to standard output, as it is (os:admin only; the node allows only
some roots and says which when PATH is outside them).

${CONNECT_HELP}

Example:
  bunkerctl read /proc/cmdline -n 10.5.0.2`;

export function run(argv: string[]): Promise<number> {
  return runRemote(argv, HELP, {}, [1, 1], async (a, r) => {
    // Bytes of several files on one stdout could not be told apart.
    if (r.dests.length !== 1) return usageError(HELP, `read takes one node, got ${r.dests.length} (${r.dests.map((d) => d.label).join(", ")})`);
    const d = r.dests[0]!;
    for await (const chunk of r.api.stream(M.Read, { path: a.positionals[0]! }, d, { timeoutMs: r.api.timeoutMs })) {
      if (chunk.data?.length && !process.stdout.write(chunk.data)) await new Promise((res) => process.stdout.once("drain", res));
    }
    return 0;
  });
}
