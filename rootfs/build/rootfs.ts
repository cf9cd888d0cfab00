/**
 * The read-only root: the skeleton of rootfs/skeleton plus generated entries (os-release, mount
 * points, personality links, empty placeholders for the files bind-mounted from the initramfs),
 * packed by mksquashfs reproducibly (zstd, every owner root, every time fixed).
 */
import { chmodSync, cpSync, mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
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
export const MOUNT_POINTS = ["proc", "sys", "dev", "run", "tmp", "system", "var", "boot"];

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

/** Fills `dir` with the root filesystem tree. */
export function stageRoot(dir: string, skeleton: string, personalities: string[], payload: PayloadFile[], b: BuildInfo): void {
  cpSync(skeleton, dir, { recursive: true });
  for (const d of MOUNT_POINTS) mkdirSync(join(dir, d), { recursive: true });
  chmodSync(join(dir, "tmp"), 0o1777);
  writeFileSync(join(dir, "etc/os-release"), osRelease(b));
  // Files that change at run time live on the /system tmpfs; the root holds links to them.
  for (const f of ["hosts", "resolv.conf", "hostname"]) symlinkSync(`/system/etc/${f}`, join(dir, "etc", f));
  // Placeholders: init bind-mounts the initramfs's copies onto them.
  for (const p of payload) {
    mkdirSync(join(dir, dirname(p.image)), { recursive: true });
    writeFileSync(join(dir, p.image), "");
    chmodSync(join(dir, p.image), 0o755);
  }
  for (const name of personalities) {
    const link = join(dir, "usr/bin", name);
    symlinkSync(relative(dirname(link), join(dir, BINARY_PATH)), link);
  }
  mkdirSync(join(dir, "sbin"), { recursive: true });
  symlinkSync("../usr/bin/bunker", join(dir, "sbin/init"));
}

/** mksquashfs of `dir`: zstd, root-owned, all times `epoch`, reproducible. */
export async function squash(dir: string, out: string, epoch: number): Promise<void> {
  await run([
    "mksquashfs", dir, out, "-noappend", "-quiet", "-no-progress", "-comp", "zstd", "-Xcompression-level", "19",
    "-all-root", "-no-xattrs", "-reproducible", "-mkfs-time", String(epoch), "-all-time", String(epoch),
  ]);
}

/** The pre-init shim, static with musl-gcc -Os, cached by its source and the compiler's version. */
export async function buildPreinit(source: string): Promise<string> {
  const version = await run(["musl-gcc", "--version"]).catch(() => {
    throw new Error("rootfs: musl-gcc not found (apt-get install musl-tools, or scripts/deps.sh apt)");
  });
  const key = sha256(readFileSync(source), version, "v1");
  return cached("preinit", key, "preinit", async (tmp) => {
    await run(["musl-gcc", "-static", "-Os", "-s", "-Wall", "-Wextra", "-Werror", "-Wl,--build-id=none", "-o", tmp, source]);
  });
}
