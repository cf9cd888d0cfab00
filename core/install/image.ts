/** An image folder (rootfs/build's output) checked against its signed manifest before anything is written from it. */
import type { KeyObject } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { IMAGE_FILES as F, MANIFEST_FILES, OPTIONAL_SLOT_FILES, SLOT_FILES } from "../image/layout.ts";
import { checkArtifacts, openManifest, type Manifest } from "../image/manifest.ts";

export interface VerifiedImage {
  dir: string;
  manifest: Manifest;
  /** Path of each SLOT_FILES entry. */
  files: Record<(typeof SLOT_FILES)[number], string>;
  /** Every file a boot slot takes from it (names inside `dir`): SLOT_FILES, then the extensions it lists. */
  slotFiles: string[];
}

/** The files a slot takes from an image with this manifest: SLOT_FILES and the OPTIONAL_SLOT_FILES it lists. */
export function slotFilesOf(manifest: Manifest): string[] {
  return [...SLOT_FILES, ...OPTIONAL_SLOT_FILES.filter((f) => manifest.artifacts.some((a) => a.name === f))];
}

/**
 * Checks the signature of DIR/manifest.json (against `trusted` when given, else the key it
 * names) and the size and SHA-256 of every artifact it lists; the kernel and initramfs must be
 * among them (with `slotFilesOnly`, only what a slot takes is checked: those two and the
 * extensions). Throws naming every problem.
 */
export function verifyImage(dir: string, trusted?: KeyObject, o: { slotFilesOnly?: boolean } = {}): VerifiedImage {
  for (const f of MANIFEST_FILES) {
    if (!existsSync(join(dir, f))) throw new Error(`image ${dir}: no ${f} (not an image folder built by rootfs/build?)`);
  }
  let manifest: Manifest;
  try {
    manifest = openManifest(readFileSync(join(dir, F.manifest)), readFileSync(join(dir, F.signature), "utf8"), trusted);
  } catch (e) {
    throw new Error(`image ${dir}: ${(e as Error).message}`);
  }
  const missing = SLOT_FILES.filter((f) => !manifest.artifacts.some((a) => a.name === f));
  if (missing.length) throw new Error(`image ${dir}: the manifest does not list ${missing.join(", ")}`);
  // slotFilesOnly: a node fetches only what a slot holds, not the ISO or the root image.
  const slotFiles = slotFilesOf(manifest);
  const checked = o.slotFilesOnly ? { ...manifest, artifacts: manifest.artifacts.filter((a) => slotFiles.includes(a.name)) } : manifest;
  const bad = checkArtifacts(checked, (n) => join(dir, n));
  if (bad.length) throw new Error(`image ${dir} does not match its signed manifest: ${bad.map((m) => `${m.name}: ${m.problem}`).join("; ")}`);
  return { dir, manifest, files: { [F.kernel]: join(dir, F.kernel), [F.initramfs]: join(dir, F.initramfs) }, slotFiles };
}
