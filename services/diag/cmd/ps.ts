import { readProcesses } from "../../../core/procfs/processes.ts";
import { formatBytes } from "../../../core/format/bytes.ts";
import { runReader } from "../output.ts";

const SUMMARY = "Processes from /proc: pid, parent, state, threads, CPU time, resident memory, uid, command line.";

export const run = (argv: string[]) => runReader("ps", SUMMARY, argv, () => readProcesses(),
  ["PID", "PPID", "STATE", "THREADS", "CPU", "RSS", "UID", "COMMAND"],
  (p) => [String(p.pid), String(p.ppid), p.state, String(p.threads), `${p.cpuSeconds.toFixed(2)}s`, formatBytes(p.residentMemory), String(p.uid), p.args || `[${p.command}]`]);
