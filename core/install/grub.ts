/**
 * GRUB for an installed disk: one grub.cfg and one grubenv on the EFI partition, shared by the
 * BIOS core.img (in the BIOS boot partition) and the UEFI BOOTX64.EFI, both built with
 * grub-mkimage so nothing is mounted. The early config built into both finds the EFI partition
 * by its FAT label and loads /grub/grub.cfg from it.
 *
 * A/B in grubenv (a 1024-byte file GRUB can rewrite in place with save_env):
 *   slot=A|B        the confirmed slot
 *   try_slot=A|B    a one-shot trial: grub.cfg boots it once and clears it before booting, so
 *                   if that boot never confirms (panic, hang, failed init), the next boot is
 *                   the confirmed slot again, by itself.
 */
import { EXTENSIONS, IMAGE_FILES as F, KERNEL_CMDLINE } from "../image/layout.ts";

export type Slot = "A" | "B";
export const SLOTS: readonly Slot[] = ["A", "B"];
export const otherSlot = (s: Slot): Slot => (s === "A" ? "B" : "A");
export function isSlot(s: unknown): s is Slot {
  return s === "A" || s === "B";
}

/** FAT label of the EFI partition (mkfs.fat -n, upper-cased by core/disklayout). */
export const EFI_FS_LABEL = "EFI";
/** ext4 label of each boot slot's filesystem. */
export const slotFsLabel = (s: Slot) => `BOOT-${s}`;

export const GRUB_DIR = "grub";
export const GRUBENV_SIZE = 1024;
const ENV_HEADER = "# GRUB Environment Block\n";

/**
 * The kernel command line of an installed boot: the consoles of the image's other boot paths,
 * and panic=10: a kernel panic reboots, so a broken slot falls back. softlockup_panic and
 * hung_task_panic make the kernel's lockup detectors panic (so reboot) instead of only warning,
 * so a kernel that hangs falls back too. Our kernel builds both detectors in and panics by
 * default (kernel-config/bunker.fragment); the arguments keep that true for any kernel with them.
 * A userland that hangs is init's boot deadline's (services/init/deadline.ts).
 */
export const INSTALLED_CMDLINE = `${KERNEL_CMDLINE} panic=10 softlockup_panic=1 hung_task_panic=1`;

export function grubConfig(): string {
  const entry = (title: string, slotVar: string, trialVar: string) => [
    `menuentry "${title}" {`,
    `  search --no-floppy --set=root --label "BOOT-\$${slotVar}"`,
    `  echo "Bunker: booting slot \$${slotVar}"`,
    `  linux /${F.kernel} ${INSTALLED_CMDLINE} bunker.slot=\$${slotVar} bunker.trial=${trialVar}`,
    // The extensions load first (the base initramfs's pre-init archive must come last); a slot
    // written from an image without them (an older one) boots the base alone.
    `  if [ ${EXTENSIONS.map((e) => `-f /${e.file}`).join(" -a ")} ]; then`,
    `    initrd ${EXTENSIONS.map((e) => `/${e.file} `).join("")}/${F.initramfs}`,
    "  else",
    `    initrd /${F.initramfs}`,
    "  fi",
    "}",
  ];
  return [
    "serial --unit=0 --speed=115200",
    "terminal_input serial console",
    "terminal_output serial console",
    "set timeout=0",
    "set slot=A",
    "set try_slot=",
    "load_env slot try_slot",
    'set boot_slot="$slot"',
    "set trial=0",
    // The one-shot: forget the trial before booting it, so an unconfirmed boot is never retried.
    'if [ "$try_slot" = "A" -o "$try_slot" = "B" ]; then',
    '  set boot_slot="$try_slot"',
    "  set try_slot=",
    "  save_env try_slot",
    "  set trial=1",
    "fi",
    'if [ "$boot_slot" = "B" ]; then set other_slot=A; else set boot_slot=A; set other_slot=B; fi',
    "set default=0",
    // When the chosen slot cannot even be loaded (no kernel, bad filesystem), GRUB goes on to this.
    "set fallback=1",
    ...entry("Bunker (slot $boot_slot)", "boot_slot", "$trial"),
    ...entry("Bunker (slot $other_slot, fallback)", "other_slot", "0"),
    "",
  ].join("\n");
}

/** The config built into core.img and BOOTX64.EFI: find the EFI partition, then read grub.cfg there. */
export function earlyConfig(): string {
  return [
    `search --no-floppy --set=root --label ${EFI_FS_LABEL}`,
    `set prefix=(\$root)/${GRUB_DIR}`,
    `configfile (\$root)/${GRUB_DIR}/grub.cfg`,
    "",
  ].join("\n");
}

const COMMON_MODULES = ["part_gpt", "fat", "ext2", "normal", "linux", "loadenv", "search", "search_label", "test", "echo", "serial", "terminal", "configfile"];
export const GRUB_MODULES = { "i386-pc": ["biosdisk", ...COMMON_MODULES], "x86_64-efi": [...COMMON_MODULES] } as const;

/** Encodes grubenv: the header, `key=value` lines, '#' up to 1024 bytes (GRUB's own format). */
export function encodeGrubenv(vars: Record<string, string>): Uint8Array {
  let body = ENV_HEADER;
  for (const [k, v] of Object.entries(vars)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`grubenv: bad variable name '${k}'`);
    if (/[\n\\]/.test(v)) throw new Error(`grubenv: value of ${k} holds a newline or backslash`);
    body += `${k}=${v}\n`;
  }
  const bytes = new TextEncoder().encode(body);
  if (bytes.length > GRUBENV_SIZE) throw new Error(`grubenv: ${bytes.length} bytes do not fit in ${GRUBENV_SIZE}`);
  const out = new Uint8Array(GRUBENV_SIZE).fill(0x23);
  out.set(bytes);
  return out;
}

/** Decodes grubenv; throws when the header is missing (not a GRUB environment block). */
export function decodeGrubenv(bytes: Uint8Array): Record<string, string> {
  const text = new TextDecoder().decode(bytes);
  if (!text.startsWith(ENV_HEADER)) throw new Error(`grubenv: no '${ENV_HEADER.trim()}' header`);
  const vars: Record<string, string> = {};
  for (const line of text.slice(ENV_HEADER.length).split("\n")) {
    if (line.startsWith("#") || line === "") continue;
    const eq = line.indexOf("=");
    if (eq > 0) vars[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return vars;
}
