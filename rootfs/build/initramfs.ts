/**
 * The initramfs: two cpio newc archives in one file, which the kernel unpacks one after the other.
 *   1. the root archive, uncompressed: ROOT_IMAGE (the compressed SquashFS with its hash tree).
 *      Stored, not compressed again: the kernel only copies it, and the SquashFS is read, checked
 *      and decompressed block by block when the running system touches it.
 *   2. the pre-init archive, zstd: the shim as /init, the root's dm-verity parameters
 *      (ROOT_VERITY) and the extensions' (core/image/layout.ts), /dev/console and the mount points. A few KB, and the only place the root
 *      hash comes from. It comes last so that its files replace any of the same name an altered
 *      root archive might carry (the kernel lets a later archive overwrite an earlier one's files).
 * One file keeps every boot path (QEMU -initrd, GRUB, iPXE, an installed slot) loading one initrd;
 * the same layout as an early-microcode archive in front of a compressed initramfs. An extension's
 * archive (rootfs/build/extension.ts) is a separate file that bootloaders load before this one, so
 * the pre-init archive stays last of all.
 */
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import { cpioLength, writeCpio, type CpioEntry } from "../../core/image/cpio.ts";
import { sha256File } from "../../core/image/manifest.ts";
import { NEW_ROOT, ROOT_IMAGE, ROOT_VERITY } from "../../core/image/layout.ts";
import { cached, run, sha256 } from "./tools.ts";

export interface InitramfsParts {
  preinit: string;
  /** ROOT_VERITY's line. */
  verity: string;
  rootImage: string;
  /** The extensions' dm-verity lines, at their Extension.verity paths. */
  extensions?: { verity: string; line: string }[];
}

export function preinitEntries(p: InitramfsParts): CpioEntry[] {
  return [
    { path: "init", type: "file", mode: 0o755, source: p.preinit },
    { path: ROOT_VERITY, type: "file", mode: 0o444, data: Buffer.from(p.verity) },
    ...(p.extensions ?? []).map((e): CpioEntry => ({ path: e.verity, type: "file", mode: 0o444, data: Buffer.from(e.line) })),
    // The kernel opens /dev/console before /init runs, so the node must exist in the archive.
    { path: "dev/console", type: "char", mode: 0o600, major: 5, minor: 1 },
    { path: "proc", type: "dir" },
    { path: "sys", type: "dir" },
    { path: NEW_ROOT, type: "dir" },
  ];
}

export function rootEntries(p: InitramfsParts): CpioEntry[] {
  return [{ path: ROOT_IMAGE, type: "file", mode: 0o444, source: p.rootImage }];
}

/** Writes the initramfs to `out`: the root archive, then zstd -`level` of the pre-init archive. */
export async function writeInitramfs(out: string, work: string, p: InitramfsParts, epoch: number, level: number): Promise<void> {
  const pre = `${work}/preinit.cpio`;
  const root = `${work}/root.cpio`;
  writeCpio(pre, preinitEntries(p), epoch);
  writeCpio(root, rootEntries(p), epoch);
  await zstdCached(pre, `${pre}.zst`, level);
  const fd = openSync(out, "w");
  try {
    for (const part of [root, `${pre}.zst`]) writeSync(fd, readFileSync(part));
  } finally {
    closeSync(fd);
  }
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

/** Splits an initramfs written by writeInitramfs into the root archive and the zstd pre-init archive. */
export function splitInitramfs(data: Uint8Array): { root: Uint8Array; preinitZst: Uint8Array } {
  const n = cpioLength(data);
  const rest = data.subarray(n);
  const zstdMagic = rest.byteLength >= 4 && rest[0] === 0x28 && rest[1] === 0xb5 && rest[2] === 0x2f && rest[3] === 0xfd;
  if (!zstdMagic) throw new Error(`initramfs: no zstd pre-init archive after the root archive (at byte ${n})`);
  return { root: data.subarray(0, n), preinitZst: rest };
}
