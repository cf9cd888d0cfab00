import { MachineService as M } from "../../../core/api/gen/services.ts";
import { listCommand } from "../client/listing.ts";
import { formatBytes } from "../../../core/format/bytes.ts";
import { CONNECT_HELP, OUTPUT_HELP } from "../client/remote.ts";

const HELP = `Usage: bunkerctl disks [-o table|json|yaml] [connection flags]

Lists each node's block devices: path, model, serial, transport, size, rotational, and which is
the system disk. Answered in maintenance mode too (with --insecure), to choose an install disk.

Options:
${OUTPUT_HELP}

${CONNECT_HELP}

Example:
  bunkerctl disks --insecure -n 10.5.0.9`;

export function run(argv: string[]): Promise<number> {
  return listCommand(argv, HELP, async (r, d) => (await r.api.unary(M.Disks, {}, d)).disks ?? [], [
    ["DEV", (x) => x.devPath ?? ""], ["MODEL", (x) => x.model || "-"], ["SERIAL", (x) => x.serial || "-"],
    ["TRANSPORT", (x) => x.transport || "-"], ["SIZE", (x) => formatBytes(Number(x.size ?? 0))],
    ["ROTATIONAL", (x) => (x.rotational ? "yes" : "no")], ["SYSTEM", (x) => (x.systemDisk ? "*" : "")],
  ]);
}
