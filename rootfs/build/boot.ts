/**
 * Boot media: the iPXE script and the hybrid ISO (GRUB for BIOS and UEFI, by grub-mkrescue with a
 * reduced module set: qemu.md section 7 measured 35 MB -> 19 MB for the same payload).
 */
import { closeSync, copyFileSync, mkdirSync, openSync, readSync, writeFileSync, writeSync } from "node:fs";
import { basename, join } from "node:path";
import { EXTENSIONS, IMAGE_FILES as F, KERNEL_CMDLINE } from "../../core/image/layout.ts";
import { run } from "./tools.ts";


/**
 * The initrds of every boot entry, in the order they are loaded: the extensions first, the base
 * initramfs last, so the pre-init archive at its end is the last word on /init and the hashes.
 */
export const BOOT_INITRDS: readonly string[] = [...EXTENSIONS.map((e) => e.file), F.initramfs];

/**
 * iPXE script; names resolve relative to the script's own URL (TFTP or HTTP). An extension that
 * is not served next to the script is skipped with a line on the console: the node boots the
 * base alone (a worker never needs etcd), where a failed `initrd` would end the script.
 */
export function ipxeScript(): string {
  // initrd=NAME: old iPXE builds need it to hand the initrds to an EFI-stub kernel.
  return [
    "#!ipxe", "echo Bunker: loading kernel and initramfs",
    `kernel ${F.kernel} ${BOOT_INITRDS.map((n) => `initrd=${n}`).join(" ")} ${KERNEL_CMDLINE}`,
    ...EXTENSIONS.map((e) => `initrd ${e.file} || echo Bunker: no ${e.file} next to this script: booting without the ${e.name} extension`),
    `initrd ${F.initramfs}`, "boot", "",
  ].join("\n");
}

export function grubConfig(): string {
  return [
    "serial --unit=0 --speed=115200",
    "terminal_input serial console",
    "terminal_output serial console",
    "set timeout=0",
    'menuentry "Bunker" {',
    `  linux /boot/${F.kernel} ${KERNEL_CMDLINE}`,
    `  initrd ${BOOT_INITRDS.map((n) => `/boot/${n}`).join(" ")}`,
    "}",
    "",
  ].join("\n");
}

const GRUB_MODULES = "linux normal iso9660 search serial terminal echo part_gpt part_msdos fat";

/**
 * Builds the ISO with the kernel and `initrds` (paths, named as BOOT_INITRDS) in /boot; `epoch` fixes every timestamp xorriso and mformat would take from the clock.
 * `prepareBoot` adds to the ISO's /boot folder once the boot files are in it (their signed manifest).
 */
export async function buildIso(out: string, kernel: string, initrds: readonly string[], work: string, epoch: number, prepareBoot?: (bootDir: string) => void): Promise<void> {
  const root = join(work, "iso");
  mkdirSync(join(root, "boot/grub"), { recursive: true });
  copyFileSync(kernel, join(root, "boot", F.kernel));
  for (const f of initrds) copyFileSync(f, join(root, "boot", basename(f)));
  prepareBoot?.(join(root, "boot"));
  writeFileSync(join(root, "boot/grub/grub.cfg"), grubConfig());
  const date = new Date(epoch * 1000).toISOString().replace(/[-:T]/g, "").slice(0, 14) + "00";
  await run(
    [
      "grub-mkrescue", "-o", out, `--install-modules=${GRUB_MODULES}`, "--fonts=", "--locales=", "--themes=", "--compress=xz",
      root, "--",
      "-volid", "BUNKER",
      "-volume_date", "all_file_dates", `=${epoch}`,
      "-volume_date", "uuid", date,
    ],
    { env: { SOURCE_DATE_EPOCH: String(epoch) } },
  );
  await fixEfiSerial(out, epoch);
}

/**
 * mformat gives the UEFI boot image (efi.img, a FAT file inside the ISO) a random volume serial
 * and ignores SOURCE_DATE_EPOCH; it is the one thing that differs between two builds. Overwrite
 * it with the epoch. No checksum covers it (ISO 9660 has none; the GPT CRCs cover only tables).
 */
async function fixEfiSerial(iso: string, epoch: number): Promise<void> {
  const report = await run(["xorriso", "-indev", iso, "-find", "/efi.img", "-exec", "report_lba", "--"]);
  const m = report.match(/File data lba:\s*\d+\s*,\s*(\d+)\s*,/);
  if (!m) throw new Error(`iso: efi.img not found in ${iso} (grub-mkrescue changed its layout?)`);
  const off = Number(m[1]) * 2048;
  const fd = openSync(iso, "r+");
  try {
    const boot = Buffer.alloc(512);
    readSync(fd, boot, 0, 512, off);
    // FAT12/16 boot sector: extended boot signature 0x29 at 0x26, volume serial at 0x27.
    if (boot[0x26] !== 0x29 || boot[510] !== 0x55 || boot[511] !== 0xaa) throw new Error(`iso: efi.img at byte ${off} is not a FAT12/16 boot sector`);
    const serial = Buffer.alloc(4);
    serial.writeUInt32LE(epoch >>> 0);
    writeSync(fd, serial, 0, 4, off + 0x27);
  } finally {
    closeSync(fd);
  }
}
