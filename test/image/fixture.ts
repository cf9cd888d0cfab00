/**
 * Shared set-up of the image tests: the cached kernel, a fixed signing key (so two builds can be
 * compared byte for byte), the stand-in PID 1 of test/qemu/fixtures, and image builds.
 */
import { createPrivateKey } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { buildImage, type ImageOptions } from "../../rootfs/build/main.ts";
import { cacheDir, run } from "../../rootfs/build/tools.ts";

export const repo = resolve(import.meta.dir, "../..");

/** The kernel from kernel-config/build.sh (built on first use: minutes). */
export async function kernel(): Promise<string> {
  const dir = (await run(["bash", join(repo, "kernel-config/build.sh"), "--print-dir"])).trim();
  return join(dir, "bzImage");
}

/** A fixed Ed25519 key (PKCS#8 from a constant seed): for tests only, never for real images. */
export function testKey(): string {
  const seed = Buffer.alloc(32, 0x42);
  const der = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]);
  return createPrivateKey({ key: der, format: "der", type: "pkcs8" }).export({ format: "pem", type: "pkcs8" }).toString();
}

/** out/bunker, built if missing. */
export async function realBinary(): Promise<string> {
  const b = join(repo, "out/bunker");
  if (!existsSync(b)) await run([join(repo, "node_modules/.bin/bun"), join(repo, "scripts/build.ts")]);
  return b;
}

/** The stand-in PID 1 (test/qemu/fixtures/stage-init.ts) compiled like the real binary. */
export async function stageBinary(): Promise<string> {
  return fixtureBinary("stage-init");
}

/** Builds an image with the fixed key; zstd -3 keeps test builds fast (the level is a parameter; it is the small pre-init archive's). */
export async function testImage(out: string, binary: string, opts: { iso?: boolean; version?: string; securityVersion?: number; extraRootFiles?: ImageOptions["extraRootFiles"] } = {}): Promise<string> {
  await buildImage({
    out,
    binary,
    kernel: await kernel(),
    keyPem: testKey(),
    zstdLevel: 3,
    iso: opts.iso ?? true,
    epoch: 1_700_000_000,
    build: { version: opts.version ?? "test", commit: "test" },
    securityVersion: opts.securityVersion,
    extraRootFiles: opts.extraRootFiles,
  });
  return out;
}

/** A test fixture of test/qemu/fixtures compiled like the real binary, as an image's PID 1. */
export async function fixtureBinary(name: string): Promise<string> {
  const dir = join(cacheDir("test"), name);
  mkdirSync(dir, { recursive: true });
  const out = join(dir, "bunker");
  await run([join(repo, "node_modules/.bin/bun"), "build", "--compile", "--minify", "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig", join(repo, `test/qemu/fixtures/${name}.ts`), "--outfile", out]);
  return out;
}
