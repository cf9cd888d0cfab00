/**
 * META on disk: two copies of the block (block.ts) side by side at the start of the META
 * partition, copy 1 at its offset 0 and copy 2 right after it.
 *
 * Reading tries copy 1, then copy 2. Writing writes copy 2, syncs, then copy 1, syncs. Readers
 * trust copy 1, so it is overwritten only once the new block is already durable in copy 2: an
 * interruption while writing copy 2 leaves copy 1 (the old block) as what is read, and one while
 * writing copy 1 leaves a torn copy 1 whose checksum fails, so the reader falls back to copy 2,
 * which by then holds the new block. At no instant are both copies torn, and the reader always
 * gets a whole block, old or new.
 */
import type { DiskDevice } from "../gpt/device.ts";
import { BLOCK_SIZE, decodeBlock, encodeBlock, type MetaValues } from "./block.ts";

/** Where META lives: a byte offset on a disk (the META partition's start) and the block size. */
export interface MetaLocation {
  dev: DiskDevice;
  offset: number;
  blockSize?: number;
}

export type MetaRead =
  | { ok: true; values: MetaValues; copy: 1 | 2; problems: string[] }
  | { ok: false; error: string; blank: boolean };

function copyOffsets(loc: MetaLocation): [number, number] {
  const size = loc.blockSize ?? BLOCK_SIZE;
  if (loc.offset < 0 || loc.offset + 2 * size > loc.dev.size) {
    throw new Error(`${loc.dev.path}: META needs ${2 * size} bytes at ${loc.offset}, the disk has ${loc.dev.size}`);
  }
  return [loc.offset, loc.offset + size];
}

/**
 * Reads META. Never throws for bad content: when neither copy is valid it returns ok: false with
 * an error naming both reasons (blank: true when neither was ever written), so a booting node
 * can go to maintenance mode and say why.
 */
export function readMeta(loc: MetaLocation): MetaRead {
  const size = loc.blockSize ?? BLOCK_SIZE;
  const [o1, o2] = copyOffsets(loc);
  const c1 = decodeBlock(loc.dev.read(o1, size));
  const c2 = decodeBlock(loc.dev.read(o2, size));
  if ("values" in c1) {
    const problems: string[] = [];
    if ("error" in c2) problems.push(`copy 2 at byte ${o2}: ${c2.error}`);
    else if (!sameValues(c1.values, c2.values)) problems.push("copy 2 differs from copy 1 (an earlier write was interrupted); copy 1 used");
    return { ok: true, values: c1.values, copy: 1, problems };
  }
  if ("values" in c2) return { ok: true, values: c2.values, copy: 2, problems: [`copy 1 at byte ${o1}: ${c1.error}; copy 2 used`] };
  const blank = c1.error.startsWith("empty") && c2.error.startsWith("empty");
  return { ok: false, blank, error: `${loc.dev.path}: META unreadable: copy 1 at byte ${o1}: ${c1.error}; copy 2 at byte ${o2}: ${c2.error}` };
}

/** Writes `values` as both copies, copy 2 first (see the top of this file for why). */
export function writeMeta(loc: MetaLocation, values: MetaValues): void {
  const block = encodeBlock(values, loc.blockSize ?? BLOCK_SIZE);
  const [o1, o2] = copyOffsets(loc);
  loc.dev.write(o2, block);
  loc.dev.sync();
  loc.dev.write(o1, block);
  loc.dev.sync();
}

/**
 * Reads, applies `change` to the values, writes both copies. Starting from blank META is fine;
 * starting from META that is unreadable (both copies corrupt) throws unless `force`, so an
 * update never silently discards values it could not read.
 */
export function updateMeta(loc: MetaLocation, change: (values: MetaValues) => void, force = false): MetaValues {
  const cur = readMeta(loc);
  if (!cur.ok && !cur.blank && !force) throw new Error(`${cur.error} (refusing to overwrite it without force)`);
  const values: MetaValues = cur.ok ? cur.values : new Map();
  change(values);
  writeMeta(loc, values);
  return values;
}

function sameValues(a: MetaValues, b: MetaValues): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (!w || !Buffer.from(v).equals(Buffer.from(w))) return false;
  }
  return true;
}

const text = new TextEncoder();
const untext = new TextDecoder("utf-8", { fatal: true });

/** Convenience for the many tags that hold text. */
export function setText(values: MetaValues, tag: number, value: string): void {
  values.set(tag, text.encode(value));
}
export function getText(values: MetaValues, tag: number): string | undefined {
  const v = values.get(tag);
  return v === undefined ? undefined : untext.decode(v);
}
