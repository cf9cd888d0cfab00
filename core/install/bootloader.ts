/**
 * Writing GRUB onto a disk without mounting anything:
 * - BIOS: boot.img into the first 440 bytes of LBA 0 (the protective MBR's partition table and
 *   signature stay), core.img (built by grub-mkimage) into the BIOS boot partition, with the two
 *   sector pointers grub-bios-setup would patch: boot.img's kernel sector and the blocklist at
 *   the end of core.img's first sector (diskboot.img).
 * - UEFI: EFI/BOOT/BOOTX64.EFI (grub-mkimage) copied into the FAT32 EFI partition with mtools,
 *   the removable-media path every UEFI firmware boots without NVRAM entries.
 * - Both: grub/grub.cfg and grub/grubenv on the EFI partition.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { DiskDevice } from "../gpt/device.ts";
import { runTool } from "../disklayout/format.ts";
import { earlyConfig, encodeGrubenv, GRUB_DIR, GRUB_MODULES, grubConfig, type Slot } from "./grub.ts";

export const GRUB_LIB = "/usr/lib/grub";

export interface BootloaderFiles {
  bootImg: Uint8Array;
  coreImg: Uint8Array;
  efiImage: string;
}

/** Builds core.img and BOOTX64.EFI in `work` with grub-mkimage (the same early config in both). */
export function buildBootloader(work: string, grubLib = GRUB_LIB): BootloaderFiles {
  mkdirSync(work, { recursive: true });
  const early = join(work, "early.cfg");
  writeFileSync(early, earlyConfig());
  const core = join(work, "core.img");
  const efi = join(work, "BOOTX64.EFI");
  runTool(["grub-mkimage", "-O", "i386-pc", "-d", join(grubLib, "i386-pc"), "-c", early, "-p", `/${GRUB_DIR}`, "-o", core, ...GRUB_MODULES["i386-pc"]]);
  runTool(["grub-mkimage", "-O", "x86_64-efi", "-d", join(grubLib, "x86_64-efi"), "-c", early, "-p", `/${GRUB_DIR}`, "-o", efi, ...GRUB_MODULES["x86_64-efi"]]);
  return { bootImg: readFileSync(join(grubLib, "i386-pc/boot.img")), coreImg: readFileSync(core), efiImage: efi };
}

// Offsets in boot.img and diskboot.img (grub-core/boot/i386/pc/{boot,diskboot}.S).
const KERNEL_SECTOR = 0x5c;
const DRIVE_CHECK = 0x66;
const MBR_CODE_END = 0x1b8; // disk signature and partition table follow: never overwritten
const BPB_START = 0x3;
const BPB_END = 0x5a;
const BLOCKLIST_START = 0x200 - 12;

/** Writes boot.img into LBA 0 and core.img at byte `coreOffset` (the BIOS boot partition, `room` bytes). */
export function writeBiosBoot(dev: DiskDevice, files: BootloaderFiles, coreOffset: number, room: number): void {
  const { bootImg, coreImg } = files;
  if (bootImg.length !== 512) throw new Error(`boot.img has ${bootImg.length} bytes, expected 512`);
  if (coreImg.length > room) throw new Error(`core.img (${coreImg.length} bytes) does not fit in the BIOS boot partition (${room} bytes)`);
  if (coreOffset % 512 !== 0) throw new Error(`BIOS boot partition at byte ${coreOffset} is not 512-byte aligned`);
  const coreLba = BigInt(coreOffset / 512);
  const core = Uint8Array.from(coreImg);
  const cv = new DataView(core.buffer);
  // diskboot.img loads the rest of core.img from the sectors right after itself.
  cv.setBigUint64(BLOCKLIST_START, coreLba + 1n, true);
  dev.write(coreOffset, core);
  dev.sync();
  const mbr = Uint8Array.from(dev.read(0, 512));
  const bpb = mbr.slice(BPB_START, BPB_END);
  mbr.set(bootImg.subarray(0, MBR_CODE_END));
  mbr.set(bpb, BPB_START);
  const mv = new DataView(mbr.buffer);
  mv.setBigUint64(KERNEL_SECTOR, coreLba, true);
  // A hard disk: boot from the drive the BIOS says (DL), as grub-bios-setup does (two NOPs over the floppy check).
  mbr[DRIVE_CHECK] = 0x90;
  mbr[DRIVE_CHECK + 1] = 0x90;
  dev.write(0, mbr);
  dev.sync();
}

/** `mtools -i` target for the FAT filesystem at `offset` in `path`. */
const mtoolsImage = (path: string, offset: number) => `${path}@@${offset}`;

/** Copies BOOTX64.EFI, grub.cfg and the first grubenv onto the FAT32 EFI partition at `offset`. */
export function writeEfiFiles(dev: DiskDevice, offset: number, files: BootloaderFiles, work: string, slot: Slot): void {
  const cfg = join(work, "grub.cfg");
  const env = join(work, "grubenv");
  writeFileSync(cfg, grubConfig());
  writeFileSync(env, encodeGrubenv({ slot, try_slot: "" }));
  const img = mtoolsImage(dev.path, offset);
  const mt = (cmd: string[]) => runTool(cmd, 60_000);
  mt(["mmd", "-D", "o", "-i", img, "::/EFI", "::/EFI/BOOT", `::/${GRUB_DIR}`]);
  mt(["mcopy", "-D", "o", "-i", img, files.efiImage, "::/EFI/BOOT/BOOTX64.EFI"]);
  mt(["mcopy", "-D", "o", "-i", img, cfg, `::/${GRUB_DIR}/grub.cfg`]);
  mt(["mcopy", "-D", "o", "-i", img, env, `::/${GRUB_DIR}/grubenv`]);
  dev.sync();
}

/** The GRUB images the image build made (rootfs/build/nodetools.ts) in `dir`, or null when they are not there (a host). */
export function prebuiltBootloader(dir: string): BootloaderFiles | null {
  const efiImage = join(dir, "BOOTX64.EFI");
  if (!existsSync(efiImage)) return null;
  return { bootImg: readFileSync(join(dir, "boot.img")), coreImg: readFileSync(join(dir, "core.img")), efiImage };
}
