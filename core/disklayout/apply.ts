/**
 * Writing a layout to a disk: refuse a disk that holds anything unless told to wipe, clear the
 * old table and the start of every partition, write the GPT, then make the filesystems.
 */
import type { DiskDevice } from "../gpt/device.ts";
import { readGpt, writeGpt } from "../gpt/disk.ts";
import { MiB } from "../gpt/table.ts";
import { formatVolume, type FormatTarget } from "./format.ts";
import type { LayoutPlan, PlannedVolume } from "./plan.ts";

/** What is on a disk already, in words; empty when it is blank (first and last MiB all zero, no GPT). */
export function existingContent(dev: DiskDevice): string[] {
  const found: string[] = [];
  const gpt = readGpt(dev);
  if (gpt.table) found.push(`a GPT with ${gpt.table.partitions.length} partition(s)${gpt.table.partitions.length ? ": " + gpt.table.partitions.map((p) => p.name || `#${p.index}`).join(", ") : ""}`);
  else if (gpt.present) found.push(`a damaged GPT (${gpt.problems.join("; ")})`);
  const head = dev.read(0, Math.min(MiB, dev.size));
  if (!gpt.present && head.subarray(0, 512).some((b) => b !== 0)) {
    const mbr = head[510] === 0x55 && head[511] === 0xaa;
    found.push(mbr ? "an MBR boot sector (possibly MBR partitions or a filesystem)" : "data in the first sector");
  } else if (!gpt.present && head.some((b) => b !== 0)) {
    found.push("data in the first MiB (perhaps a filesystem)");
  }
  return found;
}

export interface ApplyOptions {
  /** Required when the disk holds anything (existingContent is not empty). */
  wipe: boolean;
  /** Make the filesystems too (default true). */
  format?: boolean;
  /**
   * Where each partition's filesystem is made. Default: on the disk itself at the partition's
   * offset (image files, and disks whose partition nodes are not there yet).
   */
  targetFor?: (v: PlannedVolume) => FormatTarget;
  progress?: (step: string) => void;
  /** Called once the table is written, before formatting (to have the kernel re-read it). */
  afterTable?: () => void;
}

export interface ApplyResult { wiped: string[]; formatted: string[] }

/** Writes `plan` to `dev` (opened for writing). Throws before writing anything when it must refuse. */
export function applyLayout(dev: DiskDevice, plan: LayoutPlan, opts: ApplyOptions): ApplyResult {
  if (dev.sectorSize !== plan.sectorSize) throw new Error(`${dev.path}: the plan is for ${plan.sectorSize}-byte sectors, the disk has ${dev.sectorSize}`);
  if (dev.size !== plan.diskSize) throw new Error(`${dev.path}: the plan is for a disk of ${plan.diskSize} bytes, this one has ${dev.size}`);
  const existing = existingContent(dev);
  if (existing.length > 0 && !opts.wipe) {
    throw new Error(`${dev.path} is not blank (it holds ${existing.join(", ")}); refusing to write without wipe`);
  }
  const say = opts.progress ?? (() => {});
  const zeros = new Uint8Array(MiB);
  // Old tables and filesystem signatures go first, so that nothing stale is found later by blkid
  // or by a mount that guesses: the first and last MiB of the disk and of every partition.
  say(`clearing old signatures on ${dev.path}`);
  const clear = (offset: number, length: number) => {
    for (let at = offset; at < offset + length; at += MiB) dev.write(at, zeros.subarray(0, Math.min(MiB, offset + length - at)));
  };
  clear(0, Math.min(MiB, dev.size));
  clear(Math.max(0, dev.size - MiB), Math.min(MiB, dev.size));
  for (const v of plan.volumes) {
    clear(v.offset, Math.min(MiB, v.size));
    clear(v.offset + v.size - Math.min(MiB, v.size), Math.min(MiB, v.size));
  }
  dev.sync();
  say(`writing the partition table (${plan.volumes.length} partitions)`);
  writeGpt(dev, plan.table);
  opts.afterTable?.();
  const formatted: string[] = [];
  if (opts.format ?? true) {
    for (const v of plan.volumes) {
      if (v.filesystem === "none") continue;
      say(`making ${v.filesystem} on ${v.label} (partition ${v.index})`);
      const target = opts.targetFor?.(v) ?? { path: dev.path, offset: v.offset, size: v.size, sectorSize: dev.sectorSize };
      formatVolume(v, target);
      formatted.push(v.label);
    }
  }
  return { wiped: existing, formatted };
}
