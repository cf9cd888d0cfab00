/**
 * Changing a table in memory: adding partitions on 1 MiB boundaries and growing the last one.
 * Every function returns a new table and leaves its argument alone; nothing here touches a disk.
 */
import { randomGuid } from "./guid.ts";
import { alignmentSectors, tableProblems, type GptPartition, type GptTable } from "./table.ts";

export interface NewPartition {
  type: string;
  name: string;
  /** Size in bytes, a multiple of 1 MiB; "rest" takes what is left (down to a 1 MiB boundary). */
  size: number | "rest";
  attributes?: bigint;
  /** Default: random. */
  guid?: string;
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

/** The last LBA a partition can end on so that its end, too, falls on a 1 MiB boundary. */
export function alignedEnd(t: GptTable): number {
  const a = alignmentSectors(t.sectorSize);
  return Math.floor((t.lastUsableLba + 1) / a) * a - 1;
}

/** `t` with `spec` added after its last partition, in the first free entry slot. */
export function addPartition(t: GptTable, spec: NewPartition): GptTable {
  const a = alignmentSectors(t.sectorSize);
  const used = new Set(t.partitions.map((p) => p.index));
  let index = 1;
  while (used.has(index)) index++;
  if (index > t.entryCount) throw new Error(`partition "${spec.name}": all ${t.entryCount} entries are in use`);
  const afterLast = Math.max(t.firstUsableLba, ...t.partitions.map((p) => p.lastLba + 1));
  const firstLba = alignUp(afterLast, a);
  let lastLba: number;
  if (spec.size === "rest") {
    lastLba = alignedEnd(t);
  } else {
    if (!Number.isSafeInteger(spec.size) || spec.size <= 0 || spec.size % (a * t.sectorSize) !== 0) {
      throw new Error(`partition "${spec.name}": size ${spec.size} is not a positive multiple of 1 MiB`);
    }
    lastLba = firstLba + spec.size / t.sectorSize - 1;
  }
  if (lastLba < firstLba || lastLba > t.lastUsableLba) {
    const free = Math.max(0, (alignedEnd(t) + 1 - firstLba) * t.sectorSize);
    throw new Error(`partition "${spec.name}": does not fit (${spec.size === "rest" ? "nothing" : spec.size + " bytes"} wanted, ${free} bytes free from LBA ${firstLba})`);
  }
  const p: GptPartition = {
    index, type: spec.type.toUpperCase(), guid: (spec.guid ?? randomGuid()).toUpperCase(), firstLba, lastLba,
    attributes: spec.attributes ?? 0n, name: spec.name,
  };
  const out = { ...t, partitions: [...t.partitions, p].sort((x, y) => x.index - y.index) };
  const problems = tableProblems(out);
  if (problems.length > 0) throw new Error(`partition "${spec.name}": ${problems.join("; ")}`);
  return out;
}

/**
 * `t` with the partition that ends last extended to the end of the usable area (down to a 1 MiB
 * boundary). Call fitToDisk first when the disk itself grew. Returns the table and how many
 * sectors were added (0 when it already filled the disk).
 */
export function growLastPartition(t: GptTable): { table: GptTable; addedSectors: number; index: number } {
  if (t.partitions.length === 0) throw new Error("no partition to grow");
  const last = t.partitions.reduce((x, y) => (y.lastLba > x.lastLba ? y : x));
  const end = alignedEnd(t);
  if (end <= last.lastLba) return { table: t, addedSectors: 0, index: last.index };
  const partitions = t.partitions.map((p) => (p.index === last.index ? { ...p, lastLba: end } : { ...p }));
  return { table: { ...t, partitions }, addedSectors: end - last.lastLba, index: last.index };
}
