/**
 * The read-only root: the skeleton of rootfs/skeleton plus generated entries (os-release, mount
 * points, personality links), the binary with its glibc loader and libraries, packed by
 * mksquashfs reproducibly (every owner root, every time fixed), then given its dm-verity hash
 * tree by veritysetup, appended to the same file.
 */
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, cpSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { EXTENSIONS, IMAGE_PUBLIC_KEY, ROOT_INFO } from "../../core/image/layout.ts";
import { sha256File } from "../../core/image/manifest.ts";
import { cached, run, sha256 } from "./tools.ts";

/** A file the binary needs at run time: its path in the image and where the build reads it. */
export interface PayloadFile {
  image: string;
  source: string;
}

export const BINARY_PATH = "usr/bin/bunker";

/** The binary and the glibc loader and libraries `ldd` says it needs. */
export async function payloadOf(binary: string): Promise<PayloadFile[]> {
  const libs = await sharedLibraries(binary);
  if (libs.length === 0) throw new Error(`rootfs: ldd found no libraries for ${binary}; is it a dynamically linked Bun binary?`);
  return [{ image: BINARY_PATH, source: binary }, ...libs].sort((a, b) => (a.image < b.image ? -1 : 1));
}

/** The loader and shared libraries of a dynamically linked program, at the paths `ldd` names. */
export async function sharedLibraries(program: string): Promise<PayloadFile[]> {
  const files: PayloadFile[] = [];
  for (const line of (await run(["ldd", program])).split("\n")) {
    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
    const m = line.match(/(?:=>\s*)?(\/\S+)\s+\(0x/);
    if (m) files.push({ image: m[1]!.replace(/^\//, ""), source: realpathSync(m[1]!) });
  }
  return files;
}

/** Directories that exist (empty) in the root: mount points and writable places. */
export const MOUNT_POINTS = ["proc", "sys", "dev", "run", "tmp", "system", "var", "boot", ...EXTENSIONS.map((e) => e.mountPoint)];

export interface BuildInfo {
  version: string;
  commit: string;
}

export function osRelease(b: BuildInfo): string {
  return [
    'NAME="Bunker"',
    "ID=bunker",
    `VERSION="${b.version}"`,
    `VERSION_ID="${b.version}"`,
    `BUILD_ID="${b.commit}"`,
    `PRETTY_NAME="Bunker ${b.version}"`,
    "",
  ].join("\n");
}

/** What the root says about the image it belongs to (ROOT_INFO); verity covers it. */
export interface RootInfo extends BuildInfo {
  securityVersion: number;
}

/** Fills `dir` with the root filesystem tree. */
export function stageRoot(dir: string, skeleton: string, personalities: string[], payload: PayloadFile[], b: BuildInfo, extra: { publicKey: string; info: RootInfo }): void {
  cpSync(skeleton, dir, { recursive: true });
  for (const d of MOUNT_POINTS) mkdirSync(join(dir, d), { recursive: true });
  chmodSync(join(dir, "tmp"), 0o1777);
  writeFileSync(join(dir, "etc/os-release"), osRelease(b));
  // Files that change at run time live on the /system tmpfs; the root holds links to them.
  for (const f of ["hosts", "resolv.conf", "hostname"]) symlinkSync(`/system/etc/${f}`, join(dir, "etc", f));
  for (const p of payload) {
    mkdirSync(join(dir, dirname(p.image)), { recursive: true });
    copyFileSync(p.source, join(dir, p.image));
    chmodSync(join(dir, p.image), 0o755);
  }
  mkdirSync(join(dir, dirname(IMAGE_PUBLIC_KEY)), { recursive: true });
  writeFileSync(join(dir, IMAGE_PUBLIC_KEY), extra.publicKey);
  writeFileSync(join(dir, ROOT_INFO), JSON.stringify(extra.info) + "\n");
  for (const name of personalities) {
    const link = join(dir, "usr/bin", name);
    symlinkSync(relative(dirname(link), join(dir, BINARY_PATH)), link);
  }
  mkdirSync(join(dir, "sbin"), { recursive: true });
  symlinkSync("../usr/bin/bunker", join(dir, "sbin/init"));
}

/** How the SquashFS is compressed: chosen by measurement (bench/image.ts, bench/results/image.md). */
export interface RootCompression {
  /** "none" stores the blocks as they are: only for measuring what decompression costs at boot. */
  algo: "zstd" | "xz" | "none";
  /** zstd level 1..22 (ignored for xz). */
  level: number;
  /** SquashFS block size in bytes: a power of two from 4 KiB to 1 MiB. */
  blockSize: number;
}

/**
 * zstd -19 in 1 MiB blocks: 3.5 MB smaller than 128 KiB blocks at the same boot time, and seconds
 * faster under TCG than xz (bench/results/image.md).
 */
export const DEFAULT_ROOT_COMPRESSION: RootCompression = { algo: "zstd", level: 19, blockSize: 1 << 20 };

/** Parses "zstd", "zstd:19", "xz", "none", with an optional ",BLOCK" ("xz,1M", "zstd:15,256K"). */
export function parseRootCompression(text: string): RootCompression {
  const m = text.match(/^(zstd|xz|none)(?::(\d+))?(?:,(\d+)([KM]?))?$/);
  const bad = () => new Error(`image: --root-compression ${JSON.stringify(text)}: want zstd[:LEVEL 1..22], xz or none, then optionally ,BLOCK (4K..1M, a power of two), e.g. xz,1M`);
  if (!m) throw bad();
  const algo = m[1] as RootCompression["algo"];
  const level = m[2] !== undefined ? Number(m[2]) : DEFAULT_ROOT_COMPRESSION.level;
  const blockSize = m[3] !== undefined ? Number(m[3]) * (m[4] === "M" ? 1 << 20 : m[4] === "K" ? 1024 : 1) : DEFAULT_ROOT_COMPRESSION.blockSize;
  if (algo !== "zstd" && m[2] !== undefined) throw bad();
  if (level < 1 || level > 22 || blockSize < 4096 || blockSize > 1 << 20 || (blockSize & (blockSize - 1)) !== 0) throw bad();
  return { algo, level, blockSize };
}

/** A digest of a tree: every path, its type, mode, and content or link target, in sorted order. */
export function treeDigest(dir: string): string {
  const h = createHash("sha256");
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(dir, r));
      h.update(`${r}\0${st.mode}\0`);
      if (st.isSymbolicLink()) h.update(readlinkSync(join(dir, r)));
      else if (st.isFile()) h.update(sha256File(join(dir, r)));
      h.update("\0");
      if (st.isDirectory()) walk(r);
    }
  };
  walk("");
  return h.digest("hex");
}

/**
 * mksquashfs of `dir`: root-owned, all times `epoch`, reproducible. Cached by the tree's digest,
 * the options and mksquashfs's version: compressing the binary takes minutes at the high levels.
 */
export async function squash(dir: string, out: string, epoch: number, comp: RootCompression = DEFAULT_ROOT_COMPRESSION): Promise<void> {
  // xz with the x86 branch filter: the root is mostly x86 machine code.
  const how = comp.algo === "zstd" ? ["-comp", "zstd", "-Xcompression-level", String(comp.level)]
    : comp.algo === "xz" ? ["-comp", "xz", "-Xbcj", "x86"]
    // Every part stored; the superblock still names zstd, which the kernel has (it refuses gzip).
    : ["-comp", "zstd", "-noI", "-noId", "-noD", "-noF", "-noX"];
  const args = [...how, "-b", String(comp.blockSize), "-all-root", "-no-xattrs", "-reproducible", "-mkfs-time", String(epoch), "-all-time", String(epoch)];
  const version = await run(["mksquashfs", "-version"]);
  const c = await cached("squashfs", sha256(treeDigest(dir), args.join(" "), version), "root.sqsh", async (tmp) => {
    await run(["mksquashfs", dir, tmp, "-noappend", "-quiet", "-no-progress", ...args]);
  });
  copyFileSync(c, out);
}

/** The dm-verity parameters of a root image (ROOT_VERITY's line). */
export interface Verity {
  dataBlocks: number;
  hashStartBlock: number;
  rootHash: string;
  salt: string;
}

export const VERITY_BLOCK = 4096;

/**
 * Appends the dm-verity hash tree to `image` (veritysetup format, 4 KiB blocks, SHA-256, no
 * superblock: the parameters travel in ROOT_VERITY instead) and returns the parameters. The salt
 * is the image's own SHA-256, so the result is reproducible and differs between images.
 */
export async function appendVerity(image: string): Promise<Verity> {
  const size = statSync(image).size;
  if (size % VERITY_BLOCK !== 0) throw new Error(`rootfs: ${image} is ${size} bytes, not a multiple of ${VERITY_BLOCK} (mksquashfs pads to 4 KiB unless -nopad)`);
  const salt = sha256File(image);
  const out = await run([
    "veritysetup", "format", "--no-superblock", "--hash=sha256", `--data-block-size=${VERITY_BLOCK}`, `--hash-block-size=${VERITY_BLOCK}`,
    `--hash-offset=${size}`, `--salt=${salt}`, image, image,
  ]).catch((e: Error) => {
    throw new Error(`rootfs: veritysetup (apt-get install cryptsetup-bin, or scripts/deps.sh apt): ${e.message}`);
  });
  const rootHash = out.match(/^Root hash:\s*([0-9a-f]{64})\s*$/m)?.[1];
  if (!rootHash) throw new Error(`rootfs: veritysetup printed no root hash:\n${out}`);
  return { dataBlocks: size / VERITY_BLOCK, hashStartBlock: size / VERITY_BLOCK, rootHash, salt };
}

export function verityLine(v: Verity): string {
  return `${v.dataBlocks} ${v.hashStartBlock} ${v.rootHash} ${v.salt}\n`;
}

/**
 * The pre-init shim, static with musl-gcc -Os, cached by its source and the compiler's version.
 * `unverified`: the test-only variant that execs the binary from the initramfs with no root
 * (for guests that are not an image); never used for an image.
 */
export async function buildPreinit(source: string, opts: { unverified?: boolean } = {}): Promise<string> {
  const version = await run(["musl-gcc", "--version"]).catch(() => {
    throw new Error("rootfs: musl-gcc not found (apt-get install musl-tools, or scripts/deps.sh apt)");
  });
  const defs = opts.unverified ? ["-DUNVERIFIED_TEST_ROOT"] : [];
  const key = sha256(readFileSync(source), version, "v1", ...defs);
  return cached("preinit", key, "preinit", async (tmp) => {
    await run(["musl-gcc", "-static", "-Os", "-s", "-Wall", "-Wextra", "-Werror", "-Wl,--build-id=none", ...defs, "-o", tmp, source]);
  });
}
