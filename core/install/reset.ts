/**
 * Reset: STATE (config, identity) and EPHEMERAL (/var) are made anew and empty; the boot slots,
 * the bootloader and META's boot records are left alone, so the node boots the same image with
 * no config: maintenance mode. Run on a disk whose partitions are not mounted (the node's init
 * unmounts them first, or runs it from the next boot).
 */
import type { DiskDevice } from "../gpt/device.ts";
import { formatVolume } from "../disklayout/format.ts";
import { Label, type PlannedVolume } from "../disklayout/plan.ts";
import { extent, findVolume } from "../disklayout/volumes.ts";
import { tableOf, ext4Label } from "./slots.ts";

export const RESETTABLE = [Label.STATE, Label.EPHEMERAL] as const;
export type ResettableLabel = (typeof RESETTABLE)[number];

export function reset(dev: DiskDevice, volumes: readonly ResettableLabel[] = RESETTABLE, progress: (s: string) => void = () => {}): string[] {
  for (const v of volumes) if (!RESETTABLE.includes(v)) throw new Error(`reset: ${v} cannot be reset (only ${RESETTABLE.join(", ")})`);
  const table = tableOf(dev);
  const done: string[] = [];
  for (const label of volumes) {
    const p = findVolume(table, label);
    const { offset, size } = extent(table, p);
    // EPHEMERAL keeps the filesystem type it had (ext4 unless it was made xfs).
    const fs = label === Label.EPHEMERAL && ext4Label(dev, offset) === null && isXfs(dev, offset) ? "xfs" : "ext4";
    progress(`wiping ${label}: a new empty ${fs} filesystem`);
    // Zero the first MiB first, so a reset cut short leaves no half-old filesystem that mounts.
    dev.write(offset, new Uint8Array(1 << 20));
    dev.sync();
    const vol: PlannedVolume = { index: p.index, label, type: p.type, guid: p.guid, filesystem: fs, offset, size, legacyBootable: false, purpose: "" };
    formatVolume(vol, { path: dev.path, offset, size, sectorSize: dev.sectorSize });
    dev.sync();
    done.push(label);
  }
  return done;
}

function isXfs(dev: DiskDevice, offset: number): boolean {
  const sb = dev.read(offset, 4);
  return String.fromCharCode(...sb) === "XFSB";
}
