/**
 * SHA-256 fingerprints of certificates, for pinning a server whose certificate no CA vouches for
 * (a node in maintenance mode serves a self-signed one). The digest is of the DER certificate,
 * as `openssl x509 -fingerprint -sha256` computes it, in two spellings that name the same bytes:
 * - openssl's: upper-case hex pairs joined by colons, `AB:CD:...` (95 characters);
 * - compact: `SHA256:` and the digest in unpadded base64 (as ssh prints key fingerprints).
 */
import { createHash, timingSafeEqual } from "node:crypto";

export const FINGERPRINT_BYTES = 32;

/** SHA-256 of a DER certificate. */
export function certificateFingerprint(der: Uint8Array): Buffer {
  return createHash("sha256").update(der).digest();
}

/** openssl's spelling: `AB:CD:...`. */
export function opensslFingerprint(digest: Uint8Array): string {
  return Buffer.from(digest).toString("hex").toUpperCase().match(/../g)!.join(":");
}

/** The compact spelling: `SHA256:` + unpadded base64. */
export function compactFingerprint(digest: Uint8Array): string {
  return `SHA256:${Buffer.from(digest).toString("base64").replace(/=+$/, "")}`;
}

/**
 * Reads a fingerprint in either spelling: `SHA256:base64` (padding optional), or hex with or
 * without colons, any case, optionally with openssl's `sha256 Fingerprint=` in front. Throws
 * an Error saying what was expected.
 */
export function parseFingerprint(text: string): Buffer {
  const t = text.trim().replace(/^sha256 fingerprint=/i, "");
  const expected = "expected SHA256:BASE64 or the 64 hex digits openssl x509 -fingerprint -sha256 prints (colons optional)";
  let digest: Buffer | undefined;
  const compact = /^SHA256:([A-Za-z0-9+/]+)={0,2}$/i.exec(t);
  if (compact) digest = Buffer.from(compact[1]!, "base64");
  else if (/^[0-9a-f]{2}(:?[0-9a-f]{2}){31}$/i.test(t) && (!t.includes(":") || /^([0-9a-f]{2}:){31}[0-9a-f]{2}$/i.test(t))) digest = Buffer.from(t.replace(/:/g, ""), "hex");
  if (!digest || digest.length !== FINGERPRINT_BYTES) throw new Error(`fingerprint ${JSON.stringify(text)}: ${expected}`);
  // Round trip: base64 that decodes to 32 bytes but is not their canonical spelling is a typo.
  if (compact && compactFingerprint(digest).slice(7) !== compact[1]!) throw new Error(`fingerprint ${JSON.stringify(text)}: ${expected}`);
  return digest;
}

/** Constant-time comparison of two digests. */
export function sameFingerprint(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
