/**
 * Builds the bootable image into one folder (default out/image):
 *   vmlinuz, initramfs.zst (the root archive: the SquashFS with its dm-verity hash tree, then
 *   the pre-init archive, zstd), etcd.ext (the etcd extension, loaded before initramfs.zst),
 *   bunker.iso (BIOS + UEFI), boot.ipxe, image.pub, manifest.json + manifest.sig.
 * Reproducible: the same commit, binary, kernel and signing key give byte-identical files.
 *
 * Usage: bun rootfs/build/main.ts [--out DIR] [--binary FILE] [--kernel BZIMAGE] [--key PEM]
 *                                 [--zstd-level N] [--root-compression ALGO[:LEVEL][,BLOCK]]
 *                                 [--no-iso] [--security-version N]
 * --root-compression: the SquashFS's, e.g. zstd:19 or xz,1M (default: see DEFAULT_ROOT_COMPRESSION).
 * The signing key (Ed25519, PKCS#8 PEM): --key, else $BUNKER_IMAGE_KEY, else
 * ${XDG_CONFIG_HOME:-~/.config}/bunker/image-signing-key.pem, generated on first use.
 * The security version signed into both manifests (anti-rollback, docs/image.md):
 * --security-version N, else the number in rootfs/security-version.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { writeBootManifest } from "./bootmanifest.ts";
import { describeFile, generateSigningKey, isSecurityVersion, loadSigningKey, rawPublicKey, SECURITY_VERSION_MAX, signManifest } from "../../core/image/manifest.ts";
import { ETCD_EXTENSION, IMAGE_FILES as F, ROOT_IMAGE, SLOT_FILES } from "../../core/image/layout.ts";
import { personalities } from "../../services/personalities.ts";
import { buildIso, ipxeScript } from "./boot.ts";
import { buildEtcdExtension } from "./extension.ts";
import { writeInitramfs } from "./initramfs.ts";
import { Progress } from "./progress.ts";
import { stageNodeTools } from "./nodetools.ts";
import { appendVerity, buildPreinit, DEFAULT_ROOT_COMPRESSION, parseRootCompression, payloadOf, squash, stageRoot, verityLine, type BuildInfo, type RootCompression, type Verity } from "./rootfs.ts";
import { run } from "./tools.ts";

const repo = resolve(import.meta.dir, "../..");

export interface ImageOptions {
  out: string;
  binary: string;
  kernel?: string;
  keyPem: string;
  /** zstd level of the small pre-init archive. */
  zstdLevel: number;
  /** The SquashFS's compression (default DEFAULT_ROOT_COMPRESSION). */
  rootCompression?: RootCompression;
  iso: boolean;
  epoch: number;
  build: BuildInfo;
  /** Extra files for the root (tests: a file the boot never reads, to damage); never for a release. */
  extraRootFiles?: { path: string; data: Uint8Array }[];
  /** Signed into the image manifest and written into the root; nodes refuse images below their floor (default 0). */
  securityVersion?: number;
}

/** The file that holds the security version of images built from this tree. */
export const SECURITY_VERSION_FILE = join(repo, "rootfs/security-version");

/** Reads a security version from the flag's text or, without one, from SECURITY_VERSION_FILE. */
export function securityVersion(flag?: string): number {
  const [text, where] = flag !== undefined ? [flag, "--security-version"] : [readFileSync(SECURITY_VERSION_FILE, "utf8").trim(), SECURITY_VERSION_FILE];
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!isSecurityVersion(n)) throw new Error(`image: ${where}: security version ${JSON.stringify(text)} is not an integer from 0 to ${SECURITY_VERSION_MAX}`);
  return n;
}

/** The signing key's PEM, generating the default one when absent. */
export function signingKey(explicit?: string): string {
  const path = explicit ?? process.env.BUNKER_IMAGE_KEY ?? join(process.env.XDG_CONFIG_HOME || join(homedir(), ".config"), "bunker", "image-signing-key.pem");
  if (!existsSync(path)) {
    if (explicit || process.env.BUNKER_IMAGE_KEY) throw new Error(`image: signing key ${path} does not exist`);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileSync(path, generateSigningKey(), { mode: 0o600 });
    process.stderr.write(`image: generated a new signing key in ${path} (keep it: it identifies your images)\n`);
  }
  return readFileSync(path, "utf8");
}

async function gitOr(args: string[], fallback: string): Promise<string> {
  return (await run(["git", "-C", repo, ...args]).catch(() => fallback)).trim() || fallback;
}

export async function buildImage(o: ImageOptions): Promise<void> {
  const p = new Progress(o.iso ? 9 : 8);
  const work = mkdtempSync(join(tmpdir(), "bunker-image-"));
  const stage = `${o.out}.tmp-${process.pid}`;
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  try {
    const kernel = await p.step("kernel (cached by config hash; a first build takes minutes)", async () => {
      if (o.kernel) return o.kernel;
      const dir = (await run(["bash", join(repo, "kernel-config/build.sh"), "--print-dir"])).trim();
      return join(dir, "bzImage");
    });
    const preinit = await p.step("pre-init shim (musl-gcc -static -Os)", () => buildPreinit(join(repo, "rootfs/preinit/preinit.c")));
    const payload = await p.step("payload: the binary and its glibc libraries", () => payloadOf(o.binary));

    const pub = join(stage, F.publicKey);
    writeFileSync(pub, rawPublicKey(loadSigningKey(o.keyPem).publicKey).toString("base64") + "\n");
    const comp = o.rootCompression ?? DEFAULT_ROOT_COMPRESSION;
    const rootImage = join(work, "rootfs.sqsh");
    const compText = comp.algo === "zstd" ? `zstd -${comp.level}` : "xz";
    await p.step(`root filesystem: SquashFS (${compText}, ${comp.blockSize / 1024} KiB blocks): the binary, its libraries, the install tools`, async () => {
      const dir = join(work, "root");
      const info = { ...o.build, securityVersion: o.securityVersion ?? 0 };
      stageRoot(dir, join(repo, "rootfs/skeleton"), personalities.map((x) => x.name).sort(), payload, o.build, { publicKey: readFileSync(pub, "utf8"), info });
      await stageNodeTools(dir, work, payload);
      for (const f of o.extraRootFiles ?? []) {
        mkdirSync(dirname(join(dir, f.path)), { recursive: true });
        writeFileSync(join(dir, f.path), f.data, { mode: 0o644 });
      }
      await squash(dir, rootImage, o.epoch, comp);
    });

    let verity: Verity | undefined;
    await p.step("dm-verity hash tree (veritysetup, SHA-256, appended to the SquashFS)", async () => {
      verity = await appendVerity(rootImage);
    });

    const etcdExt = join(stage, ETCD_EXTENSION.file);
    const extVerity = await p.step(`extension ${ETCD_EXTENSION.name}: etcd and etcdctl, SquashFS and hash tree in ${ETCD_EXTENSION.file}`, () =>
      buildEtcdExtension(ETCD_EXTENSION, etcdExt, work, o.epoch, comp));

    const initramfs = join(stage, F.initramfs);
    await p.step(`initramfs: the root archive (stored), then the pre-init archive (zstd -${o.zstdLevel}, with the root's and the extension's hashes)`, () =>
      writeInitramfs(initramfs, work, { preinit, verity: verityLine(verity!), rootImage, extensions: [{ verity: ETCD_EXTENSION.verity, line: verityLine(extVerity) }] }, o.epoch, o.zstdLevel));
    copyFileSync(kernel, join(stage, F.kernel));
    chmodSync(join(stage, F.kernel), 0o644);

    // The ISO's /boot holds the signed manifest of its own boot files: a node booted from it installs with no URL.
    const bootManifest = (dir: string) => { writeBootManifest(dir, [...SLOT_FILES, ETCD_EXTENSION.file], o.keyPem, { ...o.build, kernel: basename(dirname(kernel)) }, o.securityVersion); };
    if (o.iso) await p.step("ISO: GRUB for BIOS and UEFI (grub-mkrescue)", () => buildIso(join(stage, F.iso), kernel, [etcdExt, initramfs], work, o.epoch, bootManifest));

    await p.step("iPXE script and the signed manifest of every artifact", () => {
      writeFileSync(join(stage, F.ipxe), ipxeScript());
      const names = [F.kernel, F.initramfs, ETCD_EXTENSION.file, F.ipxe, F.publicKey, ...(o.iso ? [F.iso] : [])];
      const { json, sig } = signManifest("image", { ...o.build, kernel: basename(dirname(kernel)) }, names.map((n) => describeFile(n, join(stage, n))), o.keyPem, { securityVersion: o.securityVersion });
      writeFileSync(join(stage, F.manifest), json);
      writeFileSync(join(stage, F.signature), sig);
    });
    rmSync(o.out, { recursive: true, force: true });
    renameSync(stage, o.out);
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(stage, { recursive: true, force: true });
  }
}

async function main(argv: string[]): Promise<number> {
  const opt = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(readFileSync(import.meta.path, "utf8").split("*/")[0]!.replace(/^\/\*\*\n?| \* ?/gm, ""));
    return 0;
  }
  const pkg = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as { version: string };
  const epochText = process.env.SOURCE_DATE_EPOCH ?? (await gitOr(["log", "-1", "--format=%ct"], "0"));
  const o: ImageOptions = {
    out: resolve(opt("--out") ?? join(repo, "out/image")),
    binary: resolve(opt("--binary") ?? join(repo, "out/bunker")),
    kernel: opt("--kernel") ? resolve(opt("--kernel")!) : undefined,
    keyPem: signingKey(opt("--key") ? resolve(opt("--key")!) : undefined),
    zstdLevel: Number(opt("--zstd-level") ?? 19),
    rootCompression: opt("--root-compression") !== undefined ? parseRootCompression(opt("--root-compression")!) : undefined,
    iso: !argv.includes("--no-iso"),
    epoch: Number(epochText),
    build: { version: pkg.version, commit: await gitOr(["rev-parse", "--short=12", "HEAD"], "unknown") },
    securityVersion: securityVersion(opt("--security-version")),
  };
  if (!existsSync(o.binary)) throw new Error(`image: binary ${o.binary} does not exist (build it first: just build)`);
  if (!Number.isInteger(o.zstdLevel) || o.zstdLevel < 1 || o.zstdLevel > 19) throw new Error(`image: --zstd-level must be 1..19, got ${opt("--zstd-level")}`);
  await buildImage(o);
  for (const n of [F.kernel, F.initramfs, ETCD_EXTENSION.file, F.iso]) {
    const f = join(o.out, n);
    if (existsSync(f)) process.stderr.write(`  ${n.padEnd(14)} ${(statSync(f).size / 1e6).toFixed(1).padStart(6)} MB\n`);
  }
  process.stderr.write(`image: ${o.out}\n`);
  return 0;
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: Error) => {
      process.stderr.write(`image: ${e.message}\n`);
      process.exit(1);
    },
  );
}
