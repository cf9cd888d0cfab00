import { MachineService as M } from "../../../core/api/gen/services.ts";
import { CONNECT_HELP, runRemote } from "../client/remote.ts";

const HELP = `Usage: bunkerctl confirm [connection flags]

Keeps the config applied with \`apply-config --mode try\` (os:admin). Without it the node goes
back to its previous config when the try timeout passes.

${CONNECT_HELP}`;

export function run(argv: string[]): Promise<number> {
  return runRemote(argv, HELP, {}, [0, 0], async (_a, r) => {
    const { results, exit } = await r.each((d) => r.api.unary(M.ConfirmConfiguration, {}, d));
    for (const { d, value } of results) console.log(`${d.label}: ${value.message || "confirmed"}`);
    return exit;
  });
}
