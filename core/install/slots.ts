/**
 * The A/B boot slots of an installed disk: writing a slot, reading and changing which one boots.
 *
 * Two records say which slot boots, written in this order on every change:
 * - META's Upgrade tag: the slot to fall back to while an upgrade is unconfirmed (read by init
 *   to know that this boot is a trial, or that a trial failed);
 * - grubenv on the EFI partition: `slot` (confirmed) and `try_slot` (one-shot), which is what
 *   GRUB acts on (grub.ts).
 */
import { mkdtempSync, copyFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DiskDevice } from "../gpt/device.ts";
import { readGpt } from "../gpt/disk.ts";
import type { GptTable } from "../gpt/table.ts";
import { runTool } from "../disklayout/format.ts";
import { Label } from "../disklayout/plan.ts";
import { extent, findVolume, metaLocation } from "../disklayout/volumes.ts";
import { Tag } from "../meta/block.ts";
import { getText, readMeta, setText, updateMeta } from "../meta/store.ts";
import { decodeGrubenv, encodeGrubenv, GRUB_DIR, isSlot, otherSlot, slotFsLabel, type Slot } from "./grub.ts";
import { readFatFile, rewriteFatFile } from "./fat.ts";
import { MANIFEST_FILES } from "../image/layout.ts";
import type { VerifiedImage } from "./image.ts";

const GRUBENV_PATH = `${GRUB_DIR}/grubenv`;

export function tableOf(dev: DiskDevice): GptTable {
  const g = readGpt(dev);
  if (!g.table) throw new Error(`${dev.path}: no readable GPT${g.problems.length ? ` (${g.problems.join("; ")})` : ""}; is Bunker installed on it?`);
  return g.table;
}

export const slotLabel = (s: Slot) => (s === "A" ? Label.BOOT_A : Label.BOOT_B);

/**
 * Makes slot `slot`'s ext4 filesystem anew from the image (kernel, initramfs, the extensions it
 * has, and the signed manifest so the slot can be checked later). mke2fs -d builds it whole from a staging folder:
 * nothing of the old filesystem is reused, and the other slot is not opened.
 */
export function writeSlot(dev: DiskDevice, table: GptTable, slot: Slot, image: VerifiedImage, scratch = tmpdir()): void {
  const { offset, size } = extent(table, findVolume(table, slotLabel(slot)));
  // `scratch`: a node's /tmp (64 MiB) cannot hold the kernel and initramfs; the installer there stages on /run.
  const staging = mkdtempSync(join(scratch, `bunker-slot-${slot}-`));
  try {
    for (const f of [...image.slotFiles, ...MANIFEST_FILES]) copyFileSync(join(image.dir, f), join(staging, f));
    runTool(["mke2fs", "-t", "ext4", "-F", "-q", "-b", "4096", "-L", slotFsLabel(slot), "-d", staging, "-E", `offset=${offset}`, dev.path, `${Math.floor(size / 1024)}k`]);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  dev.sync();
}

/** The filesystem label of a slot that holds no system (made so, or being rewritten). */
export const emptySlotLabel = (s: Slot) => `EMPTY-${s}`;
/** The filesystem label of a slot whose trial boot failed: kept for inspection, never booted again. */
export const failedSlotLabel = (s: Slot) => `FAILED-${s}`;

/**
 * Makes slot `slot` an empty ext4 labelled EMPTY-X: GRUB (which looks for BOOT-X) cannot boot
 * it and rollback refuses it, but a running node can mount it and write an image into it,
 * which it could not do to a partition without a filesystem (the image has no mkfs).
 */
export function emptySlot(dev: DiskDevice, table: GptTable, slot: Slot): void {
  const { offset, size } = extent(table, findVolume(table, slotLabel(slot)));
  runTool(["mke2fs", "-t", "ext4", "-F", "-q", "-b", "4096", "-L", emptySlotLabel(slot), "-E", `offset=${offset}`, dev.path, `${Math.floor(size / 1024)}k`]);
  dev.sync();
}

export interface BootState {
  /** The confirmed slot (grubenv `slot`). */
  slot: Slot;
  /** The slot GRUB boots once next, if any (grubenv `try_slot`). */
  trySlot: Slot | null;
  /** META Upgrade: the slot to fall back to while an upgrade is unconfirmed. */
  fallback: Slot | null;
  /** Problems met while reading (e.g. META unreadable), in words. */
  problems: string[];
}

function efiOffset(table: GptTable): number {
  return extent(table, findVolume(table, Label.EFI)).offset;
}

export function readGrubenv(dev: DiskDevice, table: GptTable): Record<string, string> {
  return decodeGrubenv(readFatFile(dev, efiOffset(table), GRUBENV_PATH));
}

export function writeGrubenv(dev: DiskDevice, table: GptTable, vars: { slot: Slot; try_slot: Slot | "" }): void {
  rewriteFatFile(dev, efiOffset(table), GRUBENV_PATH, encodeGrubenv(vars));
}

export function bootState(dev: DiskDevice, table = tableOf(dev)): BootState {
  const problems: string[] = [];
  let env: Record<string, string> = {};
  try {
    env = readGrubenv(dev, table);
  } catch (e) {
    problems.push(`${(e as Error).message}: GRUB's load_env fails and it boots A`);
  }
  const slot = isSlot(env.slot) ? env.slot : "A";
  if (!isSlot(env.slot) && problems.length === 0) problems.push(`grubenv slot is '${env.slot ?? ""}', GRUB boots A`);
  const trySlot = isSlot(env.try_slot) ? env.try_slot : null;
  const meta = readMeta(metaLocation(dev, table));
  let fallback: Slot | null = null;
  if (meta.ok) {
    const f = getText(meta.values, Tag.Upgrade);
    if (isSlot(f)) fallback = f;
    problems.push(...meta.problems);
  } else if (!meta.blank) problems.push(meta.error);
  return { slot, trySlot, fallback, problems };
}

/**
 * Writes `image` into the slot that is not the confirmed one and arms a one-shot boot of it:
 * META Upgrade = the current slot, then grubenv try_slot = the new one. Returns the new slot.
 */
export function upgrade(dev: DiskDevice, image: VerifiedImage, progress: (s: string) => void = () => {}): Slot {
  const table = tableOf(dev);
  const state = bootState(dev, table);
  const target = otherSlot(state.slot);
  progress(`writing slot ${target} (the running slot ${state.slot} is not touched)`);
  writeSlot(dev, table, target, image);
  armUpgrade(dev, table, state.slot, target, progress);
  return target;
}

/** After slot `target` was written: META Upgrade = `current` (the fallback), then grubenv try_slot = `target`. */
export function armUpgrade(dev: DiskDevice, table: GptTable, current: Slot, target: Slot, progress: (s: string) => void = () => {}): void {
  progress(`recording slot ${current} as the fallback in META`);
  updateMeta(metaLocation(dev, table), (v) => setText(v, Tag.Upgrade, current));
  progress(`arming a one-shot boot of slot ${target} in grubenv`);
  writeGrubenv(dev, table, { slot: current, try_slot: target });
}

export type BootOutcome =
  | { kind: "normal"; slot: Slot }
  | { kind: "confirmed"; slot: Slot; previous: Slot }
  | { kind: "fell-back"; slot: Slot; failed: Slot };

/**
 * Called by init once the system that booted from `booted` is healthy. A trial boot of a new
 * slot becomes the confirmed slot (grubenv, then META's Upgrade tag cleared). A boot that came
 * back on the fallback slot means the trial failed: the record is cleared and the outcome says so.
 */
export function markBootGood(dev: DiskDevice, booted: Slot): BootOutcome {
  const table = tableOf(dev);
  const state = bootState(dev, table);
  const loc = metaLocation(dev, table);
  if (state.fallback === null) {
    if (state.slot !== booted) writeGrubenv(dev, table, { slot: booted, try_slot: "" });
    return { kind: "normal", slot: booted };
  }
  if (booted === state.fallback) {
    updateMeta(loc, (v) => v.delete(Tag.Upgrade));
    if (state.trySlot !== null || state.slot !== booted) writeGrubenv(dev, table, { slot: booted, try_slot: "" });
    return { kind: "fell-back", slot: booted, failed: otherSlot(booted) };
  }
  writeGrubenv(dev, table, { slot: booted, try_slot: "" });
  updateMeta(loc, (v) => v.delete(Tag.Upgrade));
  return { kind: "confirmed", slot: booted, previous: state.fallback };
}

/** Makes the other slot the confirmed one (it must hold a kernel); returns it. Clears any pending trial. */
export function rollback(dev: DiskDevice): Slot {
  const table = tableOf(dev);
  const state = bootState(dev, table);
  const target = otherSlot(state.slot);
  const found = ext4Label(dev, extent(table, findVolume(table, slotLabel(target))).offset);
  if (found !== slotFsLabel(target)) throw new Error(`${dev.path}: slot ${target} holds no Bunker system (${found === null ? "no ext4 filesystem" : `ext4 labelled '${found}'`}); refusing to roll back to it`);
  updateMeta(metaLocation(dev, table), (v) => v.delete(Tag.Upgrade));
  writeGrubenv(dev, table, { slot: target, try_slot: "" });
  return target;
}

/** The label of the ext4 filesystem at `offset`, or null when there is none (superblock magic 0xEF53). */
export function ext4Label(dev: DiskDevice, offset: number): string | null {
  const sb = dev.read(offset + 1024, 1024);
  if (sb[0x38] !== 0x53 || sb[0x39] !== 0xef) return null;
  const raw = sb.subarray(0x78, 0x88);
  const end = raw.indexOf(0);
  return new TextDecoder().decode(raw.subarray(0, end < 0 ? 16 : end));
}
