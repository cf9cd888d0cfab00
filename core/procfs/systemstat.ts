/**
 * /proc/stat: the kernel's counters since boot, CPU time in seconds. One small file, where the
 * same busy figure from every process's /proc/PID/stat is hundreds of reads: a dashboard that
 * refreshes every few seconds asks for this.
 */
import { readFileSync } from "node:fs";

/** Seconds each CPU (or all of them) spent in each state since boot. */
export interface CpuTime {
  user: number; nice: number; system: number; idle: number; iowait: number; irq: number; softIrq: number; steal: number;
}

export interface SystemStat {
  /** Seconds since the epoch. */
  bootTime: number;
  cpuTotal: CpuTime;
  /** One per CPU, in the kernel's order. */
  cpu: CpuTime[];
  contextSwitches: number;
  processesCreated: number;
  processesRunning: number;
  processesBlocked: number;
}

/** USER_HZ: fixed at 100 on Linux for every architecture Bunker runs on (as in processes.ts). */
const CLK_TCK = 100;

function cpuTime(fields: string[]): CpuTime {
  const s = (i: number) => Number(fields[i] ?? 0) / CLK_TCK;
  return { user: s(0), nice: s(1), system: s(2), idle: s(3), iowait: s(4), irq: s(5), softIrq: s(6), steal: s(7) };
}

export function parseSystemStat(text: string): SystemStat {
  const out: SystemStat = {
    bootTime: 0, cpuTotal: cpuTime([]), cpu: [], contextSwitches: 0, processesCreated: 0, processesRunning: 0, processesBlocked: 0,
  };
  let sawTotal = false;
  for (const line of text.split("\n")) {
    const [key, ...rest] = line.trim().split(/\s+/);
    if (key === "cpu") {
      out.cpuTotal = cpuTime(rest);
      sawTotal = true;
    } else if (key && /^cpu\d+$/.test(key)) out.cpu.push(cpuTime(rest));
    else if (key === "btime") out.bootTime = Number(rest[0]);
    else if (key === "ctxt") out.contextSwitches = Number(rest[0]);
    else if (key === "processes") out.processesCreated = Number(rest[0]);
    else if (key === "procs_running") out.processesRunning = Number(rest[0]);
    else if (key === "procs_blocked") out.processesBlocked = Number(rest[0]);
  }
  if (!sawTotal) throw new Error(`stat: no "cpu" line in ${JSON.stringify(text.slice(0, 60))}`);
  return out;
}

export const readSystemStat = (proc = "/proc"): SystemStat => parseSystemStat(readFileSync(`${proc}/stat`, "utf8"));

/** Seconds a CPU time spent doing anything but waiting: idle and iowait are the waiting. */
export function busySeconds(t: CpuTime): number {
  return t.user + t.nice + t.system + t.irq + t.softIrq + t.steal;
}
