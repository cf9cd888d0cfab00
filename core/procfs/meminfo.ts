/** /proc/meminfo and /proc/loadavg, parsed; sizes in bytes. */
import { readFileSync } from "node:fs";

export interface Memory {
  total: number; free: number; available: number; buffers: number; cached: number; shmem: number;
  swapTotal: number; swapFree: number;
  /** Every line of the file, in bytes where the kernel said kB. */
  raw: Record<string, number>;
}

export function parseMeminfo(text: string): Memory {
  const raw: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const m = /^([^:]+):\s+(\d+)(\s+kB)?\s*$/.exec(line);
    if (m) raw[m[1]!] = Number(m[2]) * (m[3] ? 1024 : 1);
  }
  const k = (name: string) => raw[name] ?? 0;
  return {
    total: k("MemTotal"), free: k("MemFree"), available: k("MemAvailable"), buffers: k("Buffers"), cached: k("Cached"),
    shmem: k("Shmem"), swapTotal: k("SwapTotal"), swapFree: k("SwapFree"), raw,
  };
}

export const readMemory = (proc = "/proc"): Memory => parseMeminfo(readFileSync(`${proc}/meminfo`, "utf8"));

export interface LoadAvg { load1: number; load5: number; load15: number; running: number; total: number; lastPid: number }

export function parseLoadavg(text: string): LoadAvg {
  const m = /^([\d.]+) ([\d.]+) ([\d.]+) (\d+)\/(\d+) (\d+)/.exec(text.trim());
  if (!m) throw new Error(`loadavg: unexpected format ${JSON.stringify(text.slice(0, 60))}`);
  return { load1: Number(m[1]), load5: Number(m[2]), load15: Number(m[3]), running: Number(m[4]), total: Number(m[5]), lastPid: Number(m[6]) };
}

export const readLoadAvg = (proc = "/proc"): LoadAvg => parseLoadavg(readFileSync(`${proc}/loadavg`, "utf8"));
