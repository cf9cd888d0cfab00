import { MachineService as M } from "../../../core/api/gen/services.ts";
import { listCommand } from "../client/listing.ts";
import { formatBytes } from "../../../core/format/bytes.ts";
import { CONNECT_HELP, OUTPUT_HELP } from "../client/remote.ts";

const HELP = `Usage: bunkerctl mounts [-o table|json|yaml] [connection flags]

Lists each node's mounts: source, mount point, filesystem type, size, space available and use.

Options:
${OUTPUT_HELP}

${CONNECT_HELP}`;

export function run(argv: string[]): Promise<number> {
  return listCommand(argv, HELP, async (r, d) => (await r.api.unary(M.Mounts, {}, d)).mounts ?? [], [
    ["SOURCE", (m) => m.source ?? ""], ["TARGET", (m) => m.target ?? ""], ["FSTYPE", (m) => m.fstype ?? ""],
    ["SIZE", (m) => (m.size ? formatBytes(Number(m.size)) : "-")], ["AVAILABLE", (m) => (m.size ? formatBytes(Number(m.available ?? 0)) : "-")],
    ["USE%", (m) => (m.size ? `${Math.round((100 * (Number(m.size) - Number(m.available ?? 0))) / Number(m.size))}%` : "-")],
  ]);
}
