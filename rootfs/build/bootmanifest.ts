/**
 * The signed manifest of a boot medium's own boot files: the ISO carries one in its /boot
 * folder, beside the files it lists, so that a node booted from it can install itself with no
 * URL (services/init/bootmedium.ts). It is an image manifest like the image folder's (kind
 * "image", the same key and security version), listing only the files a boot slot takes, so the
 * installer checks the folder exactly as it checks a downloaded image (core/install/image.ts).
 * The outer manifest.json of the image folder, which lists the ISO itself, cannot serve: an ISO
 * cannot hold the digest of itself.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describeFile, signManifest } from "../../core/image/manifest.ts";
import { IMAGE_FILES as F } from "../../core/image/layout.ts";

/**
 * Writes manifest.json and manifest.sig into `dir`, listing `files` (names inside `dir`: the
 * boot files as the medium holds them). Returns the names written.
 */
export function writeBootManifest(dir: string, files: readonly string[], keyPem: string, build: Record<string, string>, securityVersion?: number): string[] {
  const { json, sig } = signManifest("image", build, files.map((n) => describeFile(n, join(dir, n))), keyPem, { securityVersion });
  writeFileSync(join(dir, F.manifest), json);
  writeFileSync(join(dir, F.signature), sig);
  return [F.manifest, F.signature];
}
