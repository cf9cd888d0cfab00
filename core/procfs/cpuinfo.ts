/** /proc/cpuinfo: one entry per logical CPU (x86 field names; other architectures fill what they have). */
import { readFileSync } from "node:fs";

export interface Cpu {
  processor: number; vendorId: string; modelName: string; mhz: number; physicalId: number; coreId: number;
  cores: number; cacheSize: string; flags: string[];
}

export function parseCpuinfo(text: string): Cpu[] {
  const cpus: Cpu[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const f = new Map<string, string>();
    for (const line of block.split("\n")) {
      const i = line.indexOf(":");
      if (i > 0) f.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
    }
    if (!f.has("processor")) continue;
    const n = (k: string) => Number(f.get(k) ?? 0) || 0;
    cpus.push({
      processor: n("processor"), vendorId: f.get("vendor_id") ?? "", modelName: f.get("model name") ?? f.get("Model") ?? "",
      mhz: n("cpu MHz"), physicalId: n("physical id"), coreId: n("core id"), cores: n("cpu cores"),
      cacheSize: f.get("cache size") ?? "", flags: (f.get("flags") ?? f.get("Features") ?? "").split(/\s+/).filter(Boolean),
    });
  }
  return cpus;
}

export const readCpus = (proc = "/proc"): Cpu[] => parseCpuinfo(readFileSync(`${proc}/cpuinfo`, "utf8"));
