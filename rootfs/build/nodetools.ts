/**
 * What a node needs to install itself on a disk (machine.install): Debian's mke2fs, mkfs.fat
 * and mtools (mcopy, mmd: the UEFI files go onto the EFI partition at an offset, nothing
 * mounted), the shared libraries they need beyond the binary's own glibc, and GRUB's images
 * (boot.img, core.img, BOOTX64.EFI) made here by grub-mkimage, so the node carries no GRUB
 * modules. All under NODE_TOOLS, off every PATH: only the installer runs them.
 */
import { chmodSync, copyFileSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { buildBootloader } from "../../core/install/bootloader.ts";
import { NODE_TOOLS } from "../../core/disklayout/format.ts";
import type { PayloadFile } from "./rootfs.ts";
import { sharedLibraries } from "./rootfs.ts";

/** The programs, by the path the build reads them from. */
export const NODE_PROGRAMS = ["/usr/sbin/mke2fs", "/usr/sbin/mkfs.fat", "/usr/bin/mtools"];
/** mtools dispatches on its name: these are links to it. */
export const MTOOLS_LINKS = ["mcopy", "mmd"];
export const GRUB_FILES = ["boot.img", "core.img", "BOOTX64.EFI"] as const;
/** glibc's iconv module for codepage 850, which mtools converts FAT short names with. */
const GCONV_MODULE = "/usr/lib/x86_64-linux-gnu/gconv/IBM850.so";
/** The one conversion mtools needs, in gconv-modules syntax (the image has no glibc gconv folder). */
const GCONV_MODULES = ["alias\tCP850//\tIBM850//", "alias\t850//\tIBM850//", "module\tIBM850//\tINTERNAL\tIBM850\t1", "module\tINTERNAL\tIBM850//\tIBM850\t1", ""].join("\n");

/** Copies the tools into `root` (the SquashFS staging tree); `payload` are the libraries the root already has. */
export async function stageNodeTools(root: string, work: string, payload: PayloadFile[]): Promise<void> {
  const base = join(root, NODE_TOOLS.replace(/^\//, ""));
  for (const d of ["bin", "lib", "grub", "gconv"]) mkdirSync(join(base, d), { recursive: true });
  const have = new Set(payload.map((p) => p.image));
  const libs = new Map<string, string>();
  for (const prog of NODE_PROGRAMS) {
    const dest = join(base, "bin", basename(prog));
    copyFileSync(prog, dest);
    chmodSync(dest, 0o755);
    for (const l of await sharedLibraries(prog)) if (!have.has(l.image)) libs.set(basename(l.image), l.source);
  }
  for (const [name, source] of libs) {
    copyFileSync(source, join(base, "lib", name));
    chmodSync(join(base, "lib", name), 0o644);
  }
  for (const l of MTOOLS_LINKS) symlinkSync("mtools", join(base, "bin", l));
  // Without it mtools fails on a node: "Error converting to codepage 850", "Cannot initialize '::'".
  copyFileSync(GCONV_MODULE, join(base, "gconv/IBM850.so"));
  writeFileSync(join(base, "gconv/gconv-modules"), GCONV_MODULES);
  for (const f of ["IBM850.so", "gconv-modules"]) chmodSync(join(base, "gconv", f), 0o644);
  const boot = buildBootloader(join(work, "grub"));
  writeFileSync(join(base, "grub/boot.img"), boot.bootImg);
  writeFileSync(join(base, "grub/core.img"), boot.coreImg);
  copyFileSync(boot.efiImage, join(base, "grub/BOOTX64.EFI"));
  for (const f of GRUB_FILES) chmodSync(join(base, "grub", f), 0o644);
}
