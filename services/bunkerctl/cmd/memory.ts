import { MachineService as M } from "../../../core/api/gen/services.ts";
import { listCommand } from "../client/listing.ts";
import { formatBytes } from "../../../core/format/bytes.ts";
import { CONNECT_HELP, OUTPUT_HELP } from "../client/remote.ts";

const HELP = `Usage: bunkerctl memory [-o table|json|yaml] [connection flags]

Shows each node's memory from /proc/meminfo: total, used (total - available), free, available,
buffers, cache, shared and swap. Tables show KiB/MiB/GiB; json and yaml give bytes, with every
meminfo line under "raw".

Options:
${OUTPUT_HELP}

${CONNECT_HELP}`;

export function run(argv: string[]): Promise<number> {
  const n = (x: number | null | undefined) => formatBytes(Number(x ?? 0));
  return listCommand(argv, HELP, async (r, d) => [await r.api.unary(M.Memory, {}, d)], [
    ["TOTAL", (m) => n(m.total)], ["USED", (m) => n(Number(m.total ?? 0) - Number(m.available ?? 0))], ["FREE", (m) => n(m.free)],
    ["AVAILABLE", (m) => n(m.available)], ["BUFFERS", (m) => n(m.buffers)], ["CACHED", (m) => n(m.cached)], ["SHARED", (m) => n(m.shmem)],
    ["SWAP", (m) => `${n(Number(m.swapTotal ?? 0) - Number(m.swapFree ?? 0))}/${n(m.swapTotal)}`],
  ]);
}
