/** Every process from /proc/PID: stat, status (uid), cmdline and the exe link. */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

export interface ProcessInfo {
  pid: number; ppid: number; state: string; threads: number; cpuSeconds: number;
  virtualMemory: number; residentMemory: number; command: string; executable: string; args: string; uid: number;
}

/** Clock ticks per second and page size: fixed on Linux for every architecture Bunker runs on. */
const CLK_TCK = 100;
const PAGE = 4096;

/** /proc/PID/stat: the command sits in parentheses and may itself hold ") " or spaces. */
export function parseStat(text: string): Pick<ProcessInfo, "pid" | "ppid" | "state" | "threads" | "cpuSeconds" | "virtualMemory" | "residentMemory" | "command"> {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) throw new Error(`stat: unexpected format ${JSON.stringify(text.slice(0, 60))}`);
  // Fields after the command, numbered from 3 (state) as in proc(5).
  const rest = text.slice(close + 2).split(" ");
  const f = (n: number) => Number(rest[n - 3] ?? 0);
  return {
    pid: Number(text.slice(0, open).trim()), command: text.slice(open + 1, close), state: rest[0] ?? "?", ppid: f(4),
    threads: f(20), cpuSeconds: (f(14) + f(15)) / CLK_TCK, virtualMemory: f(23), residentMemory: f(24) * PAGE,
  };
}

/** One process, or undefined when it is gone already (processes come and go while we read). */
export function readProcess(pid: number, proc = "/proc"): ProcessInfo | undefined {
  let stat;
  let status;
  try {
    stat = parseStat(readFileSync(`${proc}/${pid}/stat`, "utf8"));
    status = readFileSync(`${proc}/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
  let args = "";
  try { args = readFileSync(`${proc}/${pid}/cmdline`, "utf8").replace(/\0+$/, "").replaceAll("\0", " "); } catch { /* gone or hidden */ }
  let executable = "";
  try { executable = readlinkSync(`${proc}/${pid}/exe`); } catch { /* kernel thread, or not ours to see */ }
  const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? 0);
  return { ...stat, args, executable, uid };
}

/** CPU seconds one thread of this process has used (user and system), or undefined when it is gone. */
export function threadCpuSeconds(tid: number, proc = "/proc"): number | undefined {
  try {
    return parseStat(readFileSync(`${proc}/self/task/${tid}/stat`, "utf8")).cpuSeconds;
  } catch {
    return undefined;
  }
}

export function readProcesses(proc = "/proc"): ProcessInfo[] {
  const out: ProcessInfo[] = [];
  for (const name of readdirSync(proc)) {
    if (!/^\d+$/.test(name)) continue;
    const p = readProcess(Number(name), proc);
    if (p) out.push(p);
  }
  return out.sort((a, b) => a.pid - b.pid);
}
