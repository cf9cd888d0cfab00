import { MachineService as M } from "../../../core/api/gen/services.ts";
import { listCommand } from "../client/listing.ts";
import { CONNECT_HELP, OUTPUT_HELP } from "../client/remote.ts";
import { health } from "./service.ts";

const HELP = `Usage: bunkerctl services [-o table|json|yaml] [connection flags]

Lists the services init supervises on each node: state, health, pid and restarts.

Options:
${OUTPUT_HELP}

${CONNECT_HELP}

Example:
  bunkerctl services -n 10.5.0.2`;

export function run(argv: string[]): Promise<number> {
  return listCommand(argv, HELP, async (r, d) => (await r.api.unary(M.ServiceList, {}, d)).services ?? [], [
    ["SERVICE", (s) => s.id ?? ""], ["STATE", (s) => s.state ?? ""], ["HEALTH", (s) => health(s.health)],
    ["PID", (s) => (s.pid ? String(s.pid) : "-")], ["RESTARTS", (s) => String(s.restarts ?? 0)],
  ]);
}
