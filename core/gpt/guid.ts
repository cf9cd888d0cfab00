/**
 * GUIDs as GPT stores them. The text form "00112233-4455-6677-8899-AABBCCDDEEFF" is written on
 * disk "mixed-endian": the first three groups little-endian (33 22 11 00, 55 44, 77 66), the last
 * two as they read (88 99 AA BB CC DD EE FF). Getting this wrong still yields a table that our
 * own reader accepts, so the tests check the bytes against sgdisk and sfdisk.
 */
import { createHash, randomBytes } from "node:crypto";

const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isGuid(text: string): boolean {
  return GUID_RE.test(text);
}

/** The 16 on-disk bytes of a GUID written as text (any case). */
export function guidToBytes(text: string): Uint8Array {
  if (!GUID_RE.test(text)) throw new Error(`not a GUID: "${text}" (expected 8-4-4-4-12 hex digits)`);
  const hex = text.replace(/-/g, "");
  const b = new Uint8Array(16);
  for (let i = 0; i < 16; i++) b[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  b.subarray(0, 4).reverse();
  b.subarray(4, 6).reverse();
  b.subarray(6, 8).reverse();
  return b;
}

/** The upper-case text form of 16 on-disk GUID bytes. */
export function guidFromBytes(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new Error(`a GUID is 16 bytes, got ${bytes.length}`);
  const b = Uint8Array.from(bytes);
  b.subarray(0, 4).reverse();
  b.subarray(4, 6).reverse();
  b.subarray(6, 8).reverse();
  const hex = Buffer.from(b).toString("hex").toUpperCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function versioned(bytes: Uint8Array, version: number): string {
  // Set the RFC 4122 version and variant in the text form's byte order.
  bytes[6] = (bytes[6]! & 0x0f) | (version << 4);
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = Buffer.from(bytes.subarray(0, 16)).toString("hex").toUpperCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** A random (version 4) GUID. */
export function randomGuid(): string {
  return versioned(randomBytes(16), 4);
}

/**
 * A GUID derived from a seed (e.g. disk GUID + partition label), so that building the same
 * image twice gives the same bytes. Marked version 8 ("custom"), as RFC 9562 allows.
 */
export function derivedGuid(seed: string): string {
  return versioned(createHash("sha256").update(seed).digest(), 8);
}

export const ZERO_GUID = "00000000-0000-0000-0000-000000000000";
