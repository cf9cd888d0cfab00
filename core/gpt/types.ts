/** Partition type GUIDs Bunker writes or recognises (the UEFI spec and the Linux conventions). */
export const PartitionType = {
  /** EFI System Partition (vfat). */
  EFI: "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
  /** GRUB's BIOS boot partition: raw space for core.img on BIOS machines booting from GPT. */
  BIOS_BOOT: "21686148-6449-6E6F-744E-656564454649",
  /** Linux filesystem data: what Bunker's BOOT, META, STATE and EPHEMERAL use, as Talos does. */
  LINUX_DATA: "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
  MICROSOFT_BASIC_DATA: "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7",
  LINUX_SWAP: "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F",
} as const;

const NAMES: Record<string, string> = Object.fromEntries(Object.entries(PartitionType).map(([k, v]) => [v, k]));

/** A short name for a known type GUID ("EFI", "BIOS_BOOT", ...), else the GUID itself. */
export function typeName(guid: string): string {
  return NAMES[guid.toUpperCase()] ?? guid.toUpperCase();
}

/** Partition attribute bits (UEFI spec 5.3.3). */
export const Attribute = {
  REQUIRED: 1n << 0n,
  NO_BLOCK_IO: 1n << 1n,
  /** Legacy BIOS bootable: what BIOS firmware and some MBR boot code look for. */
  LEGACY_BIOS_BOOTABLE: 1n << 2n,
} as const;
