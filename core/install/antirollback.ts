/**
 * Anti-rollback: every image manifest carries a signed security version (core/image/manifest.ts),
 * and META keeps a floor, the highest security version this node has confirmed booting. An
 * upgrade (or a rollback) to an image below the floor is refused unless forced: a validly signed
 * old image with a known hole cannot be replayed onto the node, over plain http or otherwise.
 *
 * The floor rises only when a boot is confirmed healthy (init, after "boot done"), never when an
 * image is staged: while a new slot is on trial the old one must still be allowed to boot, and a
 * trial that fails leaves the floor where it was. It is never lowered, not even by a forced
 * downgrade (that stays a one-off the operator asked for; the next upgrade is checked again).
 */
import { readFileSync } from "node:fs";
import type { KeyObject } from "node:crypto";
import { join } from "node:path";
import { openDisk, type DiskDevice } from "../gpt/device.ts";
import { extent, findVolume, metaLocation } from "../disklayout/volumes.ts";
import { IMAGE_FILES } from "../image/layout.ts";
import { isSecurityVersion, openManifest, SECURITY_VERSION_MAX, securityVersionOf } from "../image/manifest.ts";
import { Tag } from "../meta/block.ts";
import { getText, readMeta, setText, updateMeta, type MetaLocation } from "../meta/store.ts";
import { MS } from "../sys/mount.ts";
import { ImageError } from "./download.ts";
import { slotFsLabel, type Slot } from "./grub.ts";
import { ext4Label, slotLabel, tableOf } from "./slots.ts";
import { withVolume } from "./volume.ts";

/** An image whose security version is below the node's floor, and not forced. */
export class DowngradeError extends ImageError {
  constructor(readonly imageVersion: number, readonly floor: number, what: string, force: string) {
    super(`${what} has security version ${imageVersion}, below this node's floor ${floor} (the highest security version it has confirmed booting, kept in META): it may bring back vulnerabilities fixed since; to install it deliberately, ${force}`, false);
    this.name = "DowngradeError";
  }
}

/** The floor text of META, as a number; throws naming the value when it is not one. */
function parseFloor(text: string | undefined, where: string): number {
  if (text === undefined) return 0;
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!isSecurityVersion(n)) throw new Error(`${where}: META SecurityVersionFloor is ${JSON.stringify(text)}, not a security version; refusing to guess the floor`);
  return n;
}

/** The floor kept in META (0 when never set or META is blank). Throws when META cannot be read. */
export function readFloor(loc: MetaLocation): number {
  const meta = readMeta(loc);
  if (!meta.ok) {
    if (meta.blank) return 0;
    throw new Error(`${meta.error}: cannot read the security version floor`);
  }
  return parseFloor(getText(meta.values, Tag.SecurityVersionFloor), loc.dev.path);
}

/**
 * Raises the floor to `version` when it is lower (META is written only then); returns the floor
 * before and after.
 */
export function raiseFloor(loc: MetaLocation, version: number): { from: number; to: number } {
  if (!isSecurityVersion(version)) throw new Error(`security version ${version}: expected an integer from 0 to ${SECURITY_VERSION_MAX}`);
  const from = readFloor(loc);
  if (version <= from) return { from, to: from };
  updateMeta(loc, (v) => setText(v, Tag.SecurityVersionFloor, String(version)));
  return { from, to: version };
}

/**
 * Checks an image's security version against the floor: returns false when it is at or above
 * it, true when it is below and `force` allows it; throws DowngradeError otherwise.
 */
export function belowFloor(imageVersion: number, floor: number, force: boolean, what: string, forceHint: string): boolean {
  if (imageVersion >= floor) return false;
  if (!force) throw new DowngradeError(imageVersion, floor, what, forceHint);
  return true;
}

const metaOf = (dev: DiskDevice): MetaLocation => metaLocation(dev, tableOf(dev));

/** readFloor on a disk by path. */
export function floorOf(disk: string): number {
  const dev = openDisk(disk);
  try { return readFloor(metaOf(dev)); } finally { dev.close(); }
}

/** raiseFloor on a disk by path. */
export function raiseFloorOf(disk: string, version: number): { from: number; to: number } {
  const dev = openDisk(disk, { write: true });
  try { return raiseFloor(metaOf(dev), version); } finally { dev.close(); }
}

/**
 * The security version of the image in slot `slot` of `disk`, from the signed manifest the slot
 * holds (checked against `trusted` when given), read through a read-only mount under `work`. A
 * slot without a manifest, or with one that does not verify, counts as 0: nothing vouches for it.
 * null when the slot holds no system (not labelled BOOT-X): there is nothing to boot to check.
 */
export function slotSecurityVersion(disk: string, slot: Slot, work: string, trusted?: KeyObject): number | null {
  const dev = openDisk(disk);
  try {
    const table = tableOf(dev);
    if (ext4Label(dev, extent(table, findVolume(table, slotLabel(slot))).offset) !== slotFsLabel(slot)) return null;
  } finally {
    dev.close();
  }
  return withVolume(disk, slotLabel(slot), join(work, "slot"), (v) => {
    let json: Buffer, sig: string;
    try {
      json = readFileSync(join(v.dir, IMAGE_FILES.manifest));
      sig = readFileSync(join(v.dir, IMAGE_FILES.signature), "utf8");
    } catch {
      return 0;
    }
    try {
      return securityVersionOf(openManifest(json, sig, trusted));
    } catch {
      return 0;
    }
  }, { flags: MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC });
}
