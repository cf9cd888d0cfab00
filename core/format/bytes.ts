/**
 * Sizes for people, one way everywhere (`diag disks`, `bunkerctl disks`, `partition show` print
 * the same disk alike): binary units, the whole number when the size is one exactly ("20 GiB",
 * "511 MiB"), otherwise one decimal ("1.5 KiB"), so a size that is not round never looks round.
 */
const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"] as const;

/** 1536 -> "1.5 KiB", 20 * 2**30 -> "20 GiB". */
export function formatBytes(n: number): string {
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < UNITS.length - 1) { v /= 1024; u++; }
  if (Number.isInteger(v)) return `${v} ${UNITS[u]}`;
  let text = v.toFixed(1);
  // 1023.96 KiB rounds to "1024.0": that is the next unit.
  if (Math.abs(Number(text)) >= 1024 && u < UNITS.length - 1) { text = (v / 1024).toFixed(1); u++; }
  return `${text} ${UNITS[u]}`;
}
