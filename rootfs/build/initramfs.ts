/**
 * The initramfs: the pre-init shim as /init, the binary with its loader and libraries (their
 * only copy in the image), the SquashFS root with its signed manifest and the public key, and
 * the empty mount points the shim and init use. Written as cpio newc by core/image/cpio.ts,
 * then compressed with zstd (cached by the archive's digest: level 19 takes a minute).
 */
import { readFileSync } from "node:fs";
import { writeCpio, type CpioEntry } from "../../core/image/cpio.ts";
import { sha256File } from "../../core/image/manifest.ts";
import { IMAGE_PUBLIC_KEY, NEW_ROOT, ROOT_IMAGE, ROOT_MANIFEST, ROOT_SIGNATURE } from "../../core/image/layout.ts";
import type { PayloadFile } from "./rootfs.ts";
import { cached, run, sha256 } from "./tools.ts";

export interface InitramfsParts {
  preinit: string;
  payload: PayloadFile[];
  rootImage: string;
  rootManifest: string;
  rootSignature: string;
  publicKey: string;
}

export function initramfsEntries(p: InitramfsParts): CpioEntry[] {
  return [
    { path: "init", type: "file", mode: 0o755, source: p.preinit },
    ...p.payload.map((f): CpioEntry => ({ path: f.image, type: "file", mode: 0o755, source: f.source })),
    { path: ROOT_IMAGE, type: "file", mode: 0o444, source: p.rootImage },
    { path: ROOT_MANIFEST, type: "file", mode: 0o444, data: readFileSync(p.rootManifest) },
    { path: ROOT_SIGNATURE, type: "file", mode: 0o444, data: readFileSync(p.rootSignature) },
    { path: IMAGE_PUBLIC_KEY, type: "file", mode: 0o444, data: readFileSync(p.publicKey) },
    // The kernel opens /dev/console before /init runs, so the node must exist in the archive.
    { path: "dev/console", type: "char", mode: 0o600, major: 5, minor: 1 },
    { path: "proc", type: "dir" },
    { path: "sys", type: "dir" },
    { path: NEW_ROOT, type: "dir" },
  ];
}

export function writeInitramfs(out: string, p: InitramfsParts, epoch: number): void {
  writeCpio(out, initramfsEntries(p), epoch);
}

/** zstd of a file at `level`, cached by the input's digest and the zstd version. */
export async function zstdCached(input: string, out: string, level: number): Promise<void> {
  const version = await run(["zstd", "--version"]);
  const key = sha256(sha256File(input), String(level), version);
  const c = await cached("zstd", key, "out.zst", async (tmp) => {
    // -T2 (not -T0): the frame layout must not depend on the machine's core count.
    await run(["zstd", "-q", `-${level}`, "-T2", "--no-progress", "-f", "-o", tmp, input]);
  });
  await run(["cp", c, out]);
}
