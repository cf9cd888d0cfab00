/**
 * Fetching an image from a URL for an upgrade: the directory of a built image (rootfs/build's
 * output) served over http(s). Only what a slot holds is fetched (the signed manifest, the
 * kernel, the initramfs); the manifest's signature is checked against the trusted key before
 * the large files are fetched, and each file is cut off at the size the manifest gives it.
 */
import type { KeyObject } from "node:crypto";
import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { IMAGE_FILES, MANIFEST_FILES } from "../image/layout.ts";
import { openManifest, securityVersionOf, type Manifest } from "../image/manifest.ts";
import { slotFilesOf, verifyImage, type VerifiedImage } from "./image.ts";

const MANIFEST_MAX = 1 << 20;

/** An image that could not be fetched (`unreachable`) or does not match its signed manifest. */
export class ImageError extends Error {
  constructor(message: string, readonly unreachable: boolean) {
    super(message);
    this.name = "ImageError";
  }
}

export interface DownloadOptions {
  signal?: AbortSignal;
  progress?: (line: string) => void;
  /**
   * Called with the manifest once its signature is good, before the large files are fetched;
   * throws to refuse the image (the anti-rollback check: a refused image costs no download).
   */
  accept?: (manifest: Manifest) => void;
}

/** `base` + name, keeping the base's path as a directory. */
export function fileURL(base: string, name: string): string {
  let u: URL;
  try { u = new URL(base); } catch { throw new ImageError(`image URL ${JSON.stringify(base)}: not a URL (expected http:// or https:// of an image directory)`, false); }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new ImageError(`image URL ${base}: only http:// and https:// are fetched`, false);
  if (!u.pathname.endsWith("/")) u.pathname += "/";
  return new URL(name, u).toString();
}

/** Streams `url` into `path` (fsynced), refusing more than `max` bytes; returns the byte count. */
async function fetchTo(url: string, path: string, max: number, signal?: AbortSignal): Promise<number> {
  let res: Response;
  try {
    res = await fetch(url, { signal, redirect: "follow" });
  } catch (e) {
    throw new ImageError(`fetching ${url}: ${(e as Error).message}`, true);
  }
  if (!res.ok || !res.body) throw new ImageError(`fetching ${url}: HTTP ${res.status} ${res.statusText}`, true);
  const fd = openSync(path, "w", 0o600);
  let n = 0;
  try {
    for await (const chunk of res.body) {
      n += chunk.byteLength;
      if (n > max) throw new ImageError(`fetching ${url}: more than the ${max} bytes the signed manifest gives it`, false);
      writeSync(fd, chunk);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return n;
}

/**
 * Downloads the slot files of the image at `url` into `dir` and checks them against the
 * manifest signed by `trusted`. Throws, saying which file and why, on an unreachable URL, a
 * bad signature, a size or digest mismatch.
 */
export async function downloadImage(url: string, dir: string, trusted: KeyObject, o: DownloadOptions = {}): Promise<VerifiedImage> {
  const say = o.progress ?? (() => {});
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const f of MANIFEST_FILES) await fetchTo(fileURL(url, f), join(dir, f), MANIFEST_MAX, o.signal);
  let manifest;
  try {
    manifest = openManifest(await Bun.file(join(dir, IMAGE_FILES.manifest)).bytes(), await Bun.file(join(dir, IMAGE_FILES.signature)).text(), trusted);
  } catch (e) {
    throw new ImageError(`image ${url}: ${(e as Error).message}`, false);
  }
  say(`manifest of ${url}: signature good (version ${manifest.build.version ?? "?"}); security version ${securityVersionOf(manifest)}`);
  o.accept?.(manifest);
  const slotFiles = slotFilesOf(manifest);
  for (const name of slotFiles) {
    const a = manifest.artifacts.find((x) => x.name === name);
    if (!a) throw new ImageError(`image ${url}: the manifest does not list ${name}`, false);
    say(`fetching ${name} (${(a.size / 1e6).toFixed(1)} MB)`);
    await fetchTo(fileURL(url, name), join(dir, name), a.size, o.signal);
  }
  let image: VerifiedImage;
  try {
    image = verifyImage(dir, trusted, { slotFilesOnly: true });
  } catch (e) {
    throw new ImageError((e as Error).message.replace(`image ${dir}`, `image ${url}`), false);
  }
  say(`${slotFiles.join(", ")} match the signed manifest`);
  return image;
}
