/**
 * Upgrade, rollback and reset as the running node does them, on its own install disk while it
 * runs from one slot. Unlike the installer's versions (slots.ts, reset.ts), nothing here needs a
 * mkfs binary, which the image does not ship: the inactive slot's existing ext4 is mounted and
 * rewritten, and a volume is reset by emptying its filesystem.
 */
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { openDisk } from "../gpt/device.ts";
import { MS, isMountPoint, setFsLabel } from "../sys/mount.ts";
import { otherSlot, slotFsLabel, type Slot } from "./grub.ts";
import { MANIFEST_FILES } from "../image/layout.ts";
import type { VerifiedImage } from "./image.ts";
import type { ResettableLabel } from "./reset.ts";
import { armUpgrade, bootState, emptySlotLabel, failedSlotLabel, rollback, slotLabel, tableOf } from "./slots.ts";
import { emptyDirectory, fsyncPath, volumeFilesystem, withVolume } from "./volume.ts";

const SAFE = MS.NOSUID | MS.NODEV | MS.NOEXEC;

/**
 * Rewrites the slot mounted at `dir` with `image`. The slot is labelled EMPTY-X first and
 * BOOT-X only once every file is written and fsynced: a slot cut short is never mistaken for a
 * system by GRUB or by rollback.
 */
export function writeMountedSlot(dir: string, slot: Slot, image: VerifiedImage): void {
  setFsLabel(dir, emptySlotLabel(slot));
  emptyDirectory(dir);
  const files = [...image.slotFiles, ...MANIFEST_FILES];
  for (const f of files) copyFileSync(join(image.dir, f), join(dir, f));
  for (const f of files) fsyncPath(join(dir, f));
  fsyncPath(dir);
  setFsLabel(dir, slotFsLabel(slot));
  fsyncPath(dir);
}

/**
 * Writes `image` into the slot other than `booted` on `disk` and arms a one-shot boot of it
 * (META Upgrade, grubenv try_slot). `work` is a scratch folder for the slot's mount point.
 * Returns the slot written.
 */
export function upgradeRunning(disk: string, booted: Slot, image: VerifiedImage, work: string, progress: (s: string) => void = () => {}): Slot {
  const target = otherSlot(booted);
  {
    const dev = openDisk(disk);
    try {
      const fs = volumeFilesystem(dev, tableOf(dev), slotLabel(target));
      if (fs !== "ext4") throw new Error(`${disk}: slot ${target} holds no ext4 filesystem to write into (a disk installed before slots were made so: upgrade it from a host with 'bunker partition upgrade')`);
    } finally {
      dev.close();
    }
  }
  progress(`writing slot ${target} (the running slot ${booted} is not touched)`);
  mkdirSync(work, { recursive: true, mode: 0o700 });
  withVolume(disk, slotLabel(target), join(work, "slot"), (v) => writeMountedSlot(v.dir, target, image), { flags: SAFE });
  const dev = openDisk(disk, { write: true });
  try {
    armUpgrade(dev, tableOf(dev), booted, target, progress);
  } finally {
    dev.close();
  }
  return target;
}

/**
 * After a trial of `slot` failed (the machine came back on the other one): relabels it
 * FAILED-X, so neither GRUB's fallback entry nor a rollback boots it again (a system that
 * panics would otherwise boot-loop once made the slot). The next upgrade rewrites it.
 */
export function markSlotFailed(disk: string, slot: Slot, work: string): void {
  mkdirSync(work, { recursive: true, mode: 0o700 });
  withVolume(disk, slotLabel(slot), join(work, "failed-slot"), (v) => { setFsLabel(v.dir, failedSlotLabel(slot)); fsyncPath(v.dir); }, { flags: SAFE });
}

/** core rollback on the running node's disk: the other slot becomes the one that boots. */
export function rollbackRunning(disk: string): { slot: Slot; from: Slot } {
  const dev = openDisk(disk, { write: true });
  try {
    const from = bootState(dev).slot;
    return { slot: rollback(dev), from };
  } finally {
    dev.close();
  }
}

/**
 * Empties volumes of `disk`. One already mounted (STATE on /system/state) is emptied where it is;
 * the others are mounted on `work`/LABEL for the time it takes. Returns what was done, in words.
 */
export function resetRunning(disk: string, volumes: readonly ResettableLabel[], mounted: Partial<Record<ResettableLabel, string>>, work: string, progress: (s: string) => void = () => {}): string[] {
  const done: string[] = [];
  for (const label of volumes) {
    const at = mounted[label];
    if (at !== undefined && isMountPoint(at)) {
      const n = emptyDirectory(at).length;
      progress(`${label}: emptied in place at ${at} (${n} entries)`);
    } else {
      const n = withVolume(disk, label, join(work, label), (v) => emptyDirectory(v.dir).length, { flags: SAFE });
      progress(`${label}: emptied (${n} entries)`);
    }
    done.push(label);
  }
  return done;
}


