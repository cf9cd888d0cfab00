/**
 * The Bunker disk layout, computed from the disk's size and a few settings:
 *
 *   1 EFI        vfat (FAT32)  100 MiB   UEFI bootloader
 *   2 BIOS       none            1 MiB   GRUB core.img on BIOS machines (legacy BIOS bootable)
 *   3 BOOT-A     ext4          256 MiB   boot slot A: kernel, initramfs
 *   4 BOOT-B     ext4          256 MiB   boot slot B
 *   5 META       none (raw)      1 MiB   two copies of the META block (core/meta)
 *   6 STATE      ext4          100 MiB   machine config, node identity (/system/state)
 *   7 EPHEMERAL  ext4 or xfs    rest     /var
 *
 * Two BOOT partitions rather than one filesystem with two directories: an upgrade recreates
 * the inactive slot's filesystem whole and never writes to the running one, so no crash or bad
 * image can damage the slot that boots today (docs/disks.md says more).
 */
import { derivedGuid, randomGuid } from "../gpt/guid.ts";
import { addPartition, emptyTable, MiB, type GptTable } from "../gpt/gpt.ts";
import { Attribute, PartitionType, typeName } from "../gpt/types.ts";
import { formatBytes } from "../format/bytes.ts";
import { formatTable } from "../format/table.ts";

export type Filesystem = "vfat" | "ext4" | "xfs" | "none";

export const Label = {
  EFI: "EFI",
  BIOS: "BIOS",
  BOOT_A: "BOOT-A",
  BOOT_B: "BOOT-B",
  META: "META",
  STATE: "STATE",
  EPHEMERAL: "EPHEMERAL",
} as const;
export type VolumeLabel = (typeof Label)[keyof typeof Label];

export interface LayoutConfig {
  /** Bytes per boot slot (default 256 MiB: five times the 45 MB kernel+initramfs budget). */
  bootSlotSize?: number;
  /** Bytes of the EFI system partition (default 100 MiB). */
  efiSize?: number;
  /** Bytes of STATE (default 100 MiB). */
  stateSize?: number;
  /** The smallest EPHEMERAL accepted (default 1 GiB); the disk must leave at least this much. */
  ephemeralMinSize?: number;
  /** Filesystem of EPHEMERAL (default ext4; xfs needs at least 300 MiB). */
  ephemeralFilesystem?: "ext4" | "xfs";
  /** Logical sector size of the disk (default 512). */
  sectorSize?: 512 | 4096;
  /**
   * When set, the disk GUID and partition GUIDs derive from this seed, so an image built twice
   * is byte-identical; installs leave it unset and get random GUIDs.
   */
  guidSeed?: string;
}

export interface PlannedVolume {
  index: number;
  label: VolumeLabel;
  type: string;
  guid: string;
  filesystem: Filesystem;
  /** Byte offset on the disk and size in bytes. */
  offset: number;
  size: number;
  legacyBootable: boolean;
  purpose: string;
}

export interface LayoutPlan {
  diskSize: number;
  sectorSize: number;
  table: GptTable;
  volumes: PlannedVolume[];
}

const DEFAULTS = {
  bootSlotSize: 256 * MiB,
  efiSize: 100 * MiB,
  stateSize: 100 * MiB,
  ephemeralMinSize: 1024 * MiB,
  ephemeralFilesystem: "ext4",
  sectorSize: 512,
} as const;

/** The smallest xfs filesystem mkfs.xfs (6.x) accepts. */
export const XFS_MIN_SIZE = 300 * MiB;

interface Spec { label: VolumeLabel; type: string; fs: Filesystem; size: number | "rest"; bios?: boolean; purpose: string }

/** The partition plan for a disk of `diskSize` bytes. Throws, naming the shortfall, when it does not fit. */
export function plan(diskSize: number, config: LayoutConfig = {}): LayoutPlan {
  const c = { ...DEFAULTS, ...config };
  for (const k of ["bootSlotSize", "efiSize", "stateSize", "ephemeralMinSize"] as const) {
    if (!Number.isSafeInteger(c[k]) || c[k] <= 0 || c[k] % MiB !== 0) throw new Error(`layout: ${k} ${c[k]} is not a positive multiple of 1 MiB`);
  }
  if (c.ephemeralFilesystem === "xfs" && c.ephemeralMinSize < XFS_MIN_SIZE) {
    throw new Error(`layout: EPHEMERAL on xfs needs ephemeralMinSize >= ${XFS_MIN_SIZE / MiB} MiB (mkfs.xfs refuses smaller)`);
  }
  const specs: Spec[] = [
    { label: Label.EFI, type: PartitionType.EFI, fs: "vfat", size: c.efiSize, purpose: "UEFI bootloader" },
    { label: Label.BIOS, type: PartitionType.BIOS_BOOT, fs: "none", size: MiB, bios: true, purpose: "BIOS bootloader core (raw, zeroed)" },
    { label: Label.BOOT_A, type: PartitionType.LINUX_DATA, fs: "ext4", size: c.bootSlotSize, purpose: "boot slot A (kernel, initramfs)" },
    { label: Label.BOOT_B, type: PartitionType.LINUX_DATA, fs: "ext4", size: c.bootSlotSize, purpose: "boot slot B (kernel, initramfs)" },
    { label: Label.META, type: PartitionType.LINUX_DATA, fs: "none", size: MiB, purpose: "META key-value block, two copies (raw)" },
    { label: Label.STATE, type: PartitionType.LINUX_DATA, fs: "ext4", size: c.stateSize, purpose: "machine config and identity" },
    { label: Label.EPHEMERAL, type: PartitionType.LINUX_DATA, fs: c.ephemeralFilesystem, size: "rest", purpose: "/var: everything reconstructible" },
  ];
  const fixed = specs.reduce((sum, s) => sum + (s.size === "rest" ? 0 : s.size), 0);
  // 1 MiB before the first partition, and up to 1 MiB lost at the end to the backup GPT + alignment.
  const needed = fixed + c.ephemeralMinSize + 2 * MiB;
  if (diskSize < needed) {
    throw new Error(`layout: the disk has ${formatBytes(diskSize)}, the layout needs at least ${formatBytes(needed)} (${formatBytes(fixed)} of fixed partitions + EPHEMERAL >= ${formatBytes(c.ephemeralMinSize)})`);
  }
  const seed = c.guidSeed;
  let table = emptyTable(diskSize, c.sectorSize, seed === undefined ? randomGuid() : derivedGuid(`${seed}/disk`));
  for (const s of specs) {
    table = addPartition(table, {
      type: s.type, name: s.label, size: s.size,
      attributes: s.bios ? Attribute.LEGACY_BIOS_BOOTABLE : 0n,
      guid: seed === undefined ? undefined : derivedGuid(`${seed}/${s.label}`),
    });
  }
  const volumes = table.partitions.map((p, i): PlannedVolume => {
    const s = specs[i]!;
    return {
      index: p.index, label: s.label, type: p.type, guid: p.guid, filesystem: s.fs,
      offset: p.firstLba * c.sectorSize, size: (p.lastLba - p.firstLba + 1) * c.sectorSize,
      legacyBootable: s.bios === true, purpose: s.purpose,
    };
  });
  return { diskSize, sectorSize: c.sectorSize, table, volumes };
}

/** The plan as a table for people, one line per partition. */
export function planText(p: LayoutPlan): string {
  const rows = p.volumes.map((v) => [String(v.index), v.label, formatBytes(v.offset), formatBytes(v.size), v.filesystem,
    typeName(v.type) + (v.legacyBootable ? " (legacy bootable)" : ""), v.purpose]);
  return [`disk ${formatBytes(p.diskSize)}, ${p.sectorSize}-byte sectors, GPT disk GUID ${p.table.diskGuid}`,
    formatTable(["#", "LABEL", "START", "SIZE", "FS", "TYPE", "PURPOSE"], rows)].join("\n");
}
