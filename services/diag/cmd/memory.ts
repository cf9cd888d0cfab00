import { readMemory } from "../../../core/procfs/meminfo.ts";
import { formatBytes } from "../../../core/format/bytes.ts";
import { runReader } from "../output.ts";

const SUMMARY = "Memory from /proc/meminfo: total, free, available, buffers, cached, shared, swap.";

export const run = (argv: string[]) => runReader("memory", SUMMARY, argv, () => [readMemory()],
  ["TOTAL", "FREE", "AVAILABLE", "BUFFERS", "CACHED", "SHMEM", "SWAP", "SWAP FREE"],
  (m) => [m.total, m.free, m.available, m.buffers, m.cached, m.shmem, m.swapTotal, m.swapFree].map(formatBytes));
