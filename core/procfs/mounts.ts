/** The mount table (/proc/self/mounts) with each filesystem's size and free space (statfs). */
import { readFileSync, statfsSync } from "node:fs";

export interface MountInfo { source: string; target: string; fstype: string; options: string; size: number; available: number }

/** The kernel writes space, tab, newline and backslash in mount fields as octal escapes. */
const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export function parseMounts(text: string): Omit<MountInfo, "size" | "available">[] {
  const out: Omit<MountInfo, "size" | "available">[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(" ");
    if (f.length < 4) continue;
    out.push({ source: unescape(f[0]!), target: unescape(f[1]!), fstype: f[2]!, options: f[3]! });
  }
  return out;
}

export function readMounts(path = "/proc/self/mounts"): MountInfo[] {
  return parseMounts(readFileSync(path, "utf8")).map((m) => {
    try {
      const s = statfsSync(m.target);
      return { ...m, size: s.blocks * s.bsize, available: s.bavail * s.bsize };
    } catch {
      return { ...m, size: 0, available: 0 }; // not reachable from here (another namespace, no permission)
    }
  });
}
