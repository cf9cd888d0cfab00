/** Finding Bunker's volumes on a disk that has the layout: by GPT partition name. */
import type { DiskDevice } from "../gpt/device.ts";
import type { GptPartition, GptTable } from "../gpt/table.ts";
import type { MetaLocation } from "../meta/store.ts";
import { BLOCK_SIZE } from "../meta/block.ts";
import { Label, type VolumeLabel } from "./plan.ts";

/** The partition named `label`; throws when there is none or more than one (an ambiguous disk). */
export function findVolume(table: GptTable, label: VolumeLabel): GptPartition {
  const found = table.partitions.filter((p) => p.name === label);
  if (found.length === 0) throw new Error(`no partition named ${label} (partitions: ${table.partitions.map((p) => p.name || `#${p.index}`).join(", ") || "none"})`);
  if (found.length > 1) throw new Error(`${found.length} partitions are named ${label} (${found.map((p) => `#${p.index}`).join(", ")})`);
  return found[0]!;
}

/** Byte offset and size of a partition. */
export function extent(table: GptTable, p: GptPartition): { offset: number; size: number } {
  return { offset: p.firstLba * table.sectorSize, size: (p.lastLba - p.firstLba + 1) * table.sectorSize };
}

/** Where META is on `dev`, checking that its partition holds both copies. */
export function metaLocation(dev: DiskDevice, table: GptTable): MetaLocation {
  const { offset, size } = extent(table, findVolume(table, Label.META));
  if (size < 2 * BLOCK_SIZE) throw new Error(`${dev.path}: the META partition has ${size} bytes, two copies need ${2 * BLOCK_SIZE}`);
  return { dev, offset };
}
