/**
 * One copy of META: a fixed-size block of tagged values, in the byte format of Talos's META
 * (siderolabs/go-adv "talos" ADV), big-endian:
 *
 *   0        magic1 0x5A4B3C2D
 *   4        {tag u32, length u32, value[length]} ...   a tag of 0 ends the list
 *   size-36  SHA-256 of the whole block, computed with these 32 bytes zeroed
 *   size-4   magic2 0xA5B4C3D2
 *
 * Pure functions; where the block lives on disk is in store.ts. docs/meta.md has the format.
 */
import { BunkerError } from "../errors.ts";
import { createHash } from "node:crypto";

export const MAGIC1 = 0x5a4b3c2d;
export const MAGIC2 = 0xa5b4c3d2;
export const BLOCK_SIZE = 256 * 1024;
const HASH_SIZE = 32;
const TRAILER = HASH_SIZE + 4;

/** Tags Bunker uses. Numbers follow Talos where it defines the same meaning. */
export const Tag = {
  /** The boot slot to fall back to while an upgrade is unconfirmed ("A" or "B"). */
  Upgrade: 6,
  StagedUpgradeImageRef: 7,
  StagedUpgradeInstallOptions: 8,
  StateEncryptionConfig: 9,
  MetalNetworkPlatformConfig: 10,
  DownloadURLCode: 11,
  UserReserved1: 12,
  UserReserved2: 13,
  UserReserved3: 14,
  UUIDOverride: 15,
  UniqueMachineToken: 16,
  DiskImageBootloader: 17,
  /**
   * Bunker's own (outside Talos's numbers): the lowest image security version this node
   * accepts, decimal text. Raised when a boot is confirmed, never lowered (core/install/antirollback.ts).
   */
  SecurityVersionFloor: 64,
} as const;

export type MetaValues = Map<number, Uint8Array>;

/** How many value bytes a block of `blockSize` holds for `count` tags. */
export function capacity(blockSize: number, count: number): number {
  return blockSize - 4 - TRAILER - 8 * count;
}

function checkTag(tag: number): void {
  if (!Number.isInteger(tag) || tag < 1 || tag > 0xffffffff) throw new Error(`META tag ${tag} is not an integer in 1..2^32-1 (0 marks the end)`);
}

export function encodeBlock(values: MetaValues, blockSize = BLOCK_SIZE): Uint8Array {
  const out = new Uint8Array(blockSize);
  const v = new DataView(out.buffer);
  v.setUint32(0, MAGIC1);
  let at = 4;
  const limit = blockSize - TRAILER;
  for (const [tag, value] of [...values].sort((a, b) => a[0] - b[0])) {
    checkTag(tag);
    if (at + 8 + value.length > limit) {
      throw new BunkerError("invalid_argument", `META is full: tag ${tag} (${value.length} bytes) does not fit; ${Math.max(0, limit - at - 8)} bytes left of a ${blockSize}-byte block`);
    }
    v.setUint32(at, tag);
    v.setUint32(at + 4, value.length);
    out.set(value, at + 8);
    at += 8 + value.length;
  }
  v.setUint32(blockSize - 4, MAGIC2);
  out.set(digest(out), blockSize - TRAILER);
  return out;
}

function digest(block: Uint8Array): Uint8Array {
  const copy = Uint8Array.from(block);
  copy.fill(0, block.length - TRAILER, block.length - 4);
  return createHash("sha256").update(copy).digest();
}

/** The values in `block`, or why it is not a valid META copy. */
export function decodeBlock(block: Uint8Array): { values: MetaValues } | { error: string } {
  const v = new DataView(block.buffer, block.byteOffset, block.byteLength);
  if (block.length < 4 + TRAILER) return { error: `block of ${block.length} bytes is too small` };
  const m1 = v.getUint32(0), m2 = v.getUint32(block.length - 4);
  if (m1 !== MAGIC1) return { error: m1 === 0 ? "empty (no magic; never written)" : `bad magic1 0x${m1.toString(16)}` };
  if (m2 !== MAGIC2) return { error: `bad magic2 0x${m2.toString(16)}` };
  const stored = block.subarray(block.length - TRAILER, block.length - 4);
  if (!Buffer.from(stored).equals(Buffer.from(digest(block)))) return { error: "SHA-256 mismatch" };
  const values: MetaValues = new Map();
  const limit = block.length - TRAILER;
  let at = 4;
  while (at + 8 <= limit) {
    const tag = v.getUint32(at);
    if (tag === 0) break;
    const len = v.getUint32(at + 4);
    if (at + 8 + len > limit) return { error: `tag ${tag} at byte ${at} claims ${len} bytes, past the end of the data` };
    if (values.has(tag)) return { error: `tag ${tag} appears twice` };
    values.set(tag, block.slice(at + 8, at + 8 + len));
    at += 8 + len;
  }
  return { values };
}
