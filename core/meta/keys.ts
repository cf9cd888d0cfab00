/**
 * META keys as an operator names them (`bunkerctl meta write 0xc VALUE`, as talosctl takes
 * them): a tag number in decimal or 0x hex, or a tag's name from block.ts. Also which keys the
 * API may not change: those Bunker itself keeps consistent with the disk.
 */
import { BunkerError } from "../errors.ts";
import { Tag } from "./block.ts";

/** A key that cannot be read or changed this way; the message says which and why. */
export class MetaKeyError extends BunkerError {
  constructor(message: string) { super("failed_precondition", message); }
}

const NAMES = new Map<number, string>(Object.entries(Tag).map(([name, tag]) => [tag, name]));

/** The tag's name in block.ts, if Bunker knows it. */
export function tagName(tag: number): string | undefined {
  return NAMES.get(tag);
}

/** "0xc", "12" or "UserReserved1" (any case) -> 12. Throws MetaKeyError naming the text. */
export function parseMetaKey(text: string): number {
  const t = text.trim();
  const byName = Object.entries(Tag).find(([name]) => name.toLowerCase() === t.toLowerCase());
  if (byName) return byName[1];
  const n = /^0x[0-9a-f]+$/i.test(t) ? parseInt(t.slice(2), 16) : /^[0-9]+$/.test(t) ? Number(t) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 0xffffffff) {
    throw new MetaKeyError(`META key "${text}": expected a tag number in 1..0xffffffff (decimal or 0x hex) or a name (${[...NAMES.values()].join(", ")})`);
  }
  return n;
}

/**
 * Keys the API refuses to write or delete, and why: each holds state that Bunker changes only
 * together with the disk (grubenv, the boot slots), so a value set by hand would make the node
 * boot the wrong slot or accept an image it must refuse.
 */
export const MANAGED: ReadonlyMap<number, string> = new Map([
  [Tag.Upgrade, "upgrade, rollback and boot confirmation set it together with grubenv; use bunkerctl upgrade or rollback"],
  [Tag.SecurityVersionFloor, "the anti-rollback floor is raised only when a boot of a newer image is confirmed, and never lowered"],
]);

/** Throws MetaKeyError when `tag` is one the API may not change. */
export function checkChangeable(tag: number): void {
  const why = MANAGED.get(tag);
  if (why) throw new MetaKeyError(`META key 0x${tag.toString(16)} (${tagName(tag)}) cannot be changed through the API: ${why}`);
}
