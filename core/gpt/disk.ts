/**
 * Reading, writing and repairing the GPT on a disk (image file or block device). Reading checks
 * both copies independently, so a torn or corrupt primary or backup is reported, and repair
 * rewrites both from the one that is intact.
 */
import type { DiskDevice } from "./device.ts";
import { crc32 } from "./crc32.ts";
import {
  backupLayout, checkProtectiveMbr, decodeEntries, decodeHeader, encodeEntries, encodeHeader,
  encodeProtectiveMbr, entrySectors, hex32, tableProblems, type GptHeader, type GptTable,
} from "./table.ts";

export type CopyStatus =
  | { ok: true; lba: number; header: GptHeader }
  | { ok: false; lba: number; reason: string };

export interface GptState {
  /** The table: from the primary copy when it is intact, else from the backup; null if neither. */
  table: GptTable | null;
  /** Whether either copy carries the "EFI PART" signature at all (false: no GPT on this disk). */
  present: boolean;
  mbr: { ok: true } | { ok: false; reason: string };
  primary: CopyStatus;
  backup: CopyStatus;
  /** What a repair would fix, in words; empty when the disk needs nothing. */
  problems: string[];
}

function readCopy(dev: DiskDevice, lba: number): CopyStatus & { entries?: Uint8Array } {
  const ss = dev.sectorSize;
  if (lba < 1 || (lba + 1) * ss > dev.size) return { ok: false, lba, reason: `LBA ${lba} is outside the disk` };
  const h = decodeHeader(dev.read(lba * ss, ss), lba);
  if ("error" in h) return { ok: false, lba, reason: h.error };
  const bytes = h.entryCount * h.entrySize;
  if (h.entriesLba * ss + bytes > dev.size) return { ok: false, lba, reason: `entry array at LBA ${h.entriesLba} runs past the end of the disk` };
  const entries = dev.read(h.entriesLba * ss, bytes);
  const computed = crc32(entries);
  if (computed !== h.entriesCrc) {
    return { ok: false, lba, reason: `entry array CRC32 mismatch (header says ${hex32(h.entriesCrc)}, entries give ${hex32(computed)})` };
  }
  return { ok: true, lba, header: h, entries };
}

function tableFrom(dev: DiskDevice, h: GptHeader, entries: Uint8Array): GptTable {
  return {
    sectorSize: dev.sectorSize,
    totalSectors: Math.floor(dev.size / dev.sectorSize),
    diskGuid: h.diskGuid,
    firstUsableLba: h.firstUsableLba,
    lastUsableLba: h.lastUsableLba,
    entryCount: h.entryCount,
    entrySize: h.entrySize,
    partitions: decodeEntries(entries, h.entryCount, h.entrySize),
  };
}

/** Reads and checks both copies of the GPT and the protective MBR. Never writes. */
export function readGpt(dev: DiskDevice): GptState {
  const ss = dev.sectorSize;
  const lastLba = Math.floor(dev.size / ss) - 1;
  const mbr = checkProtectiveMbr(dev.read(0, ss));
  const primary = readCopy(dev, 1);
  // The primary says where its backup is; a disk that has since grown keeps it there. Without a
  // valid primary, the backup is looked for in the last sector, then where the damaged primary's
  // AlternateLBA field points (the damage is rarely in those 8 bytes).
  const candidates = primary.ok ? [primary.header.alternateLba, lastLba] : [lastLba, rawAlternateLba(dev)];
  let backup = readCopy(dev, candidates[0]!);
  for (const lba of candidates.slice(1)) {
    if (backup.ok || lba === undefined || lba === backup.lba) continue;
    const other = readCopy(dev, lba);
    if (other.ok) backup = other;
  }
  const problems: string[] = [];
  const present = !(unsigned(primary) && unsigned(backup));
  if (!present) return { table: null, present, mbr, primary: strip(primary), backup: strip(backup), problems: ["no GPT on this disk"] };

  if (!mbr.ok) problems.push(`protective MBR: ${mbr.reason}`);
  if (!primary.ok) problems.push(`primary GPT at LBA 1: ${primary.reason}`);
  if (!backup.ok) problems.push(`backup GPT at LBA ${backup.lba}: ${backup.reason}`);
  const good = primary.ok ? primary : backup.ok ? backup : null;
  if (!good || !good.ok) return { table: null, present, mbr, primary: strip(primary), backup: strip(backup), problems };

  const table = tableFrom(dev, good.header, good.entries!);
  if (primary.ok && backup.ok) {
    if (primary.header.entriesCrc !== backup.header.entriesCrc || primary.header.diskGuid !== backup.header.diskGuid) {
      problems.push("primary and backup GPT differ (the primary is used)");
    }
  }
  if (primary.ok && primary.header.alternateLba !== lastLba) {
    problems.push(`backup GPT is at LBA ${primary.header.alternateLba}, not at the disk's last LBA ${lastLba} (the disk changed size)`);
  }
  for (const p of tableProblems(table)) {
    problems.push(`table: ${p}`);
  }
  return { table, present, mbr, primary: strip(primary), backup: strip(backup), problems };
}

/** AlternateLBA as written in LBA 1 when it carries the GPT signature, whatever its CRC says. */
function rawAlternateLba(dev: DiskDevice): number | undefined {
  const sector = dev.read(dev.sectorSize, dev.sectorSize);
  if (new TextDecoder().decode(sector.subarray(0, 8)) !== "EFI PART") return undefined;
  const lba = new DataView(sector.buffer, sector.byteOffset).getBigUint64(32, true);
  return lba > 1n && lba < BigInt(Math.floor(dev.size / dev.sectorSize)) ? Number(lba) : undefined;
}

/** True when a copy is absent altogether (no signature), as on a blank disk. */
function unsigned(c: CopyStatus): boolean {
  return !c.ok && c.reason.startsWith("no \"EFI PART\"");
}

function strip(c: CopyStatus & { entries?: Uint8Array }): CopyStatus {
  return c.ok ? { ok: true, lba: c.lba, header: c.header } : { ok: false, lba: c.lba, reason: c.reason };
}

/**
 * Writes `table` to `dev`: protective MBR, primary entries and header, then the backup entries
 * and header in the disk's last sectors. The backup goes first and is synced before the primary
 * is touched, so that a write torn at any point leaves one intact copy for readGpt to find.
 */
export function writeGpt(dev: DiskDevice, table: GptTable): void {
  const ss = dev.sectorSize;
  if (table.sectorSize !== ss) throw new Error(`${dev.path}: table is for ${table.sectorSize}-byte sectors, the disk has ${ss}`);
  const totalSectors = Math.floor(dev.size / ss);
  if (table.totalSectors !== totalSectors) {
    throw new Error(`${dev.path}: table is for ${table.totalSectors} sectors, the disk has ${totalSectors} (use fitToDisk)`);
  }
  const problems = tableProblems(table);
  if (problems.length > 0) throw new Error(`${dev.path}: refusing to write an invalid GPT: ${problems.join("; ")}`);
  const entries = encodeEntries(table);
  const entriesCrc = crc32(entries);
  const padded = new Uint8Array(entrySectors(table) * ss);
  padded.set(entries);
  const b = backupLayout(table, totalSectors);
  dev.write(b.entriesLba * ss, padded);
  dev.write(b.headerLba * ss, encodeHeader(table, true, entriesCrc));
  dev.sync();
  dev.write(0, encodeProtectiveMbr(totalSectors, ss));
  dev.write(2 * ss, padded);
  dev.write(1 * ss, encodeHeader(table, false, entriesCrc));
  dev.sync();
}

/**
 * Moves the end of `table` to a disk of `totalSectors` (bigger or the same): the backup goes to
 * the new last sector and the usable area extends to just before it. Partitions are unchanged.
 */
export function fitToDisk(table: GptTable, totalSectors: number): GptTable {
  const { maxLastUsableLba } = backupLayout(table, totalSectors);
  const lastUsed = Math.max(0, ...table.partitions.map((p) => p.lastLba));
  if (lastUsed > maxLastUsableLba) throw new Error(`the disk of ${totalSectors} sectors is too small for partitions ending at LBA ${lastUsed}`);
  return { ...table, totalSectors, lastUsableLba: maxLastUsableLba, partitions: table.partitions.map((p) => ({ ...p })) };
}

export type RepairResult = { repaired: false; state: GptState } | { repaired: true; fixed: string[]; state: GptState };

/**
 * Rewrites both copies from the intact one when readGpt found a problem: corrupt primary or
 * backup, a backup left behind by a grown disk, a missing protective MBR. Throws when neither
 * copy is intact (nothing to repair from) or the disk has no GPT.
 */
export function repairGpt(dev: DiskDevice): RepairResult {
  const state = readGpt(dev);
  if (!state.present) throw new Error(`${dev.path}: no GPT to repair`);
  if (!state.table) throw new Error(`${dev.path}: both GPT copies are corrupt; nothing to repair from (${state.problems.join("; ")})`);
  if (state.problems.length === 0) return { repaired: false, state };
  const totalSectors = Math.floor(dev.size / dev.sectorSize);
  // The usable area extends to the (possibly new) end; growing a partition is a separate step.
  const fitted = fitToDisk(state.table, totalSectors);
  writeGpt(dev, fitted);
  return { repaired: true, fixed: state.problems, state: readGpt(dev) };
}
