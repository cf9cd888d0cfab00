import { expect, test } from "bun:test";
import { grubConfig as isoGrubConfig, ipxeScript } from "../../rootfs/build/boot.ts";
import { grubConfig as installedGrubConfig } from "../install/grub.ts";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { EXTENSIONS, IMAGE_FILES, IMAGE_PUBLIC_KEY, KERNEL_CMDLINE, MANIFEST_FILES, NEW_ROOT, ROOT_DM_NAME, ROOT_IMAGE, ROOT_INFO, ROOT_VERITY, SLOT_FILES } from "./layout.ts";

test("every boot path (iPXE, the ISO's GRUB, an installed disk's GRUB) loads a slot's files by the image's names, with the consoles", () => {
  for (const cfg of [ipxeScript(), isoGrubConfig(), installedGrubConfig()]) {
    for (const f of SLOT_FILES) expect(cfg).toContain(f);
    expect(cfg).toContain(KERNEL_CMDLINE);
    // Every initrd line names the extensions before the base initramfs, whose pre-init archive
    // must be the last one the kernel unpacks.
    const loads = cfg.split("\n").filter((l) => /^\s*initrd /.test(l)).join(" ");
    for (const e of EXTENSIONS) {
      expect(loads).toContain(e.file);
      expect(loads.indexOf(e.file)).toBeLessThan(loads.indexOf(IMAGE_FILES.initramfs));
    }
    expect(loads.trimEnd()).toEndWith(IMAGE_FILES.initramfs);
  }
});

test("a slot's and the manifest's files are files of the image folder; initramfs paths are relative to its root", () => {
  const names = Object.values(IMAGE_FILES) as string[];
  for (const f of [...SLOT_FILES, ...MANIFEST_FILES, ROOT_IMAGE]) expect(names).toContain(f);
  expect(new Set(names).size).toBe(names.length);
  // init reads them at "/" + path, rootfs/build writes them under its staging folder.
  for (const p of [ROOT_IMAGE, ROOT_VERITY, ROOT_INFO, IMAGE_PUBLIC_KEY, NEW_ROOT]) expect(p).not.toStartWith("/");
});

test("the pre-init shim (C) uses the same paths and device name as the build", () => {
  const c = readFileSync(join(import.meta.dir, "../../rootfs/preinit/preinit.c"), "utf8");
  const define = (name: string) => c.match(new RegExp(`^#define ${name} "([^"]+)"$`, "m"))?.[1];
  expect(define("ROOT_IMAGE")).toBe(`/${ROOT_IMAGE}`);
  expect(define("ROOT_VERITY")).toBe(`/${ROOT_VERITY}`);
  expect(define("NEW_ROOT")).toBe(`/${NEW_ROOT}`);
  expect(define("DM_NAME")).toBe(ROOT_DM_NAME);
  // Its table of extensions: image, verity line and device name of each, as layout.ts has them.
  for (const e of EXTENSIONS) expect(c).toContain(`{"/${e.image}", "/${e.verity}", "${e.dmName}"}`);
});
