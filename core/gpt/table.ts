/**
 * The GUID Partition Table as data, and its byte encoding (UEFI spec 2.10, chapter 5): the
 * protective MBR in LBA 0, the primary header in LBA 1 and its entry array from LBA 2, the backup
 * entry array just before the backup header in the disk's last LBA. Pure functions: reading and
 * writing a disk is in disk.ts.
 */
import { crc32 } from "./crc32.ts";
import { guidFromBytes, guidToBytes, isGuid, randomGuid, ZERO_GUID } from "./guid.ts";

export const MiB = 1024 * 1024;
/** Partitions start on 1 MiB boundaries, as every current partitioner does. */
export const ALIGNMENT_BYTES = MiB;
export const HEADER_SIZE = 92;
export const SIGNATURE = "EFI PART";
export const REVISION_1_0 = 0x00010000;
/** The spec requires room for at least 16 KiB of entries: 128 entries of 128 bytes. */
export const DEFAULT_ENTRY_COUNT = 128;
export const DEFAULT_ENTRY_SIZE = 128;
/** A partition name is at most 36 UTF-16 code units. */
export const NAME_UNITS = 36;

export interface GptPartition {
  /** 1-based slot in the entry array (what Linux calls partition N). */
  index: number;
  type: string;
  guid: string;
  firstLba: number;
  /** Inclusive. */
  lastLba: number;
  attributes: bigint;
  name: string;
}

export interface GptTable {
  sectorSize: number;
  /** Sectors on the disk the table was made for; the backup header is in the last one. */
  totalSectors: number;
  diskGuid: string;
  firstUsableLba: number;
  lastUsableLba: number;
  entryCount: number;
  entrySize: number;
  /** The used entries, sorted by index. */
  partitions: GptPartition[];
}

export interface GptHeader {
  revision: number;
  headerSize: number;
  myLba: number;
  alternateLba: number;
  firstUsableLba: number;
  lastUsableLba: number;
  diskGuid: string;
  entriesLba: number;
  entryCount: number;
  entrySize: number;
  entriesCrc: number;
}

export function alignmentSectors(sectorSize: number): number {
  return ALIGNMENT_BYTES / sectorSize;
}

export function entrySectors(t: Pick<GptTable, "entryCount" | "entrySize" | "sectorSize">): number {
  return Math.ceil((t.entryCount * t.entrySize) / t.sectorSize);
}

/** Where the backup structures of a table go on a disk of `totalSectors`. */
export function backupLayout(t: Pick<GptTable, "entryCount" | "entrySize" | "sectorSize">, totalSectors: number) {
  const headerLba = totalSectors - 1;
  const entriesLba = headerLba - entrySectors(t);
  return { headerLba, entriesLba, maxLastUsableLba: entriesLba - 1 };
}

/** An empty table covering a disk of `diskBytes` bytes. */
export function emptyTable(diskBytes: number, sectorSize = 512, diskGuid = randomGuid()): GptTable {
  if (sectorSize !== 512 && sectorSize !== 4096) throw new Error(`sector size ${sectorSize}: only 512 and 4096 are supported`);
  const totalSectors = Math.floor(diskBytes / sectorSize);
  const base = { sectorSize, entryCount: DEFAULT_ENTRY_COUNT, entrySize: DEFAULT_ENTRY_SIZE };
  const firstUsableLba = 2 + entrySectors(base);
  const { maxLastUsableLba } = backupLayout(base, totalSectors);
  if (maxLastUsableLba < firstUsableLba + alignmentSectors(sectorSize)) {
    throw new Error(`a disk of ${diskBytes} bytes is too small for a GPT with 1 MiB alignment`);
  }
  return { ...base, totalSectors, diskGuid, firstUsableLba, lastUsableLba: maxLastUsableLba, partitions: [] };
}

/** Problems that make a table unfit to write, each naming the partition; empty when fine. */
export function tableProblems(t: GptTable): string[] {
  const out: string[] = [];
  if (!isGuid(t.diskGuid)) out.push(`disk GUID "${t.diskGuid}" is not a GUID`);
  const { maxLastUsableLba } = backupLayout(t, t.totalSectors);
  if (t.lastUsableLba > maxLastUsableLba) out.push(`last usable LBA ${t.lastUsableLba} overlaps the backup entries (at most ${maxLastUsableLba})`);
  if (t.firstUsableLba < 2 + entrySectors(t)) out.push(`first usable LBA ${t.firstUsableLba} overlaps the primary entries`);
  const seen = new Set<number>();
  const sorted = [...t.partitions].sort((a, b) => a.firstLba - b.firstLba);
  for (const p of t.partitions) {
    const what = `partition ${p.index} ("${p.name}")`;
    if (!Number.isInteger(p.index) || p.index < 1 || p.index > t.entryCount) out.push(`${what}: index outside 1..${t.entryCount}`);
    if (seen.has(p.index)) out.push(`${what}: index used twice`);
    seen.add(p.index);
    if (!isGuid(p.type) || p.type === ZERO_GUID) out.push(`${what}: type "${p.type}" is not a non-zero GUID`);
    if (!isGuid(p.guid)) out.push(`${what}: unique GUID "${p.guid}" is not a GUID`);
    if (p.firstLba > p.lastLba) out.push(`${what}: starts at ${p.firstLba} after its end ${p.lastLba}`);
    if (p.firstLba < t.firstUsableLba || p.lastLba > t.lastUsableLba) {
      out.push(`${what}: sectors ${p.firstLba}-${p.lastLba} outside the usable ${t.firstUsableLba}-${t.lastUsableLba}`);
    }
    if (p.name.length > NAME_UNITS) out.push(`${what}: name longer than ${NAME_UNITS} UTF-16 units`);
  }
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!, b = sorted[i]!;
    if (b.firstLba <= a.lastLba) out.push(`partitions ${a.index} and ${b.index} overlap (sectors ${b.firstLba}-${Math.min(a.lastLba, b.lastLba)})`);
  }
  const guids = new Set(t.partitions.map((p) => p.guid.toUpperCase()));
  if (guids.size !== t.partitions.length) out.push("two partitions share a unique GUID");
  return out;
}

function setU64(v: DataView, at: number, n: number | bigint): void {
  v.setBigUint64(at, BigInt(n), true);
}
function getU64(v: DataView, at: number, what: string): number {
  const n = v.getBigUint64(at, true);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${what} ${n} is beyond any real disk`);
  return Number(n);
}

/** The entry array, `entryCount * entrySize` bytes. */
export function encodeEntries(t: GptTable): Uint8Array {
  const out = new Uint8Array(t.entryCount * t.entrySize);
  const v = new DataView(out.buffer);
  for (const p of t.partitions) {
    const at = (p.index - 1) * t.entrySize;
    out.set(guidToBytes(p.type), at);
    out.set(guidToBytes(p.guid), at + 16);
    setU64(v, at + 32, p.firstLba);
    setU64(v, at + 40, p.lastLba);
    setU64(v, at + 48, p.attributes);
    if (p.name.length > NAME_UNITS) throw new Error(`partition ${p.index}: name "${p.name}" is longer than ${NAME_UNITS} UTF-16 units`);
    for (let i = 0; i < p.name.length; i++) v.setUint16(at + 56 + i * 2, p.name.charCodeAt(i), true);
  }
  return out;
}

export function decodeEntries(bytes: Uint8Array, entryCount: number, entrySize: number): GptPartition[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: GptPartition[] = [];
  for (let i = 0; i < entryCount; i++) {
    const at = i * entrySize;
    const type = guidFromBytes(bytes.subarray(at, at + 16));
    if (type === ZERO_GUID) continue;
    let name = "";
    for (let k = 0; k < NAME_UNITS; k++) {
      const unit = v.getUint16(at + 56 + k * 2, true);
      if (unit === 0) break;
      name += String.fromCharCode(unit);
    }
    out.push({
      index: i + 1,
      type,
      guid: guidFromBytes(bytes.subarray(at + 16, at + 32)),
      firstLba: getU64(v, at + 32, `partition ${i + 1} first LBA`),
      lastLba: getU64(v, at + 40, `partition ${i + 1} last LBA`),
      attributes: v.getBigUint64(at + 48, true),
      name,
    });
  }
  return out;
}

/** One sector holding the primary (`backup` false) or backup header of `t`. */
export function encodeHeader(t: GptTable, backup: boolean, entriesCrc: number): Uint8Array {
  const out = new Uint8Array(t.sectorSize);
  const v = new DataView(out.buffer);
  const b = backupLayout(t, t.totalSectors);
  out.set(new TextEncoder().encode(SIGNATURE), 0);
  v.setUint32(8, REVISION_1_0, true);
  v.setUint32(12, HEADER_SIZE, true);
  setU64(v, 24, backup ? b.headerLba : 1);
  setU64(v, 32, backup ? 1 : b.headerLba);
  setU64(v, 40, t.firstUsableLba);
  setU64(v, 48, t.lastUsableLba);
  out.set(guidToBytes(t.diskGuid), 56);
  setU64(v, 72, backup ? b.entriesLba : 2);
  v.setUint32(80, t.entryCount, true);
  v.setUint32(84, t.entrySize, true);
  v.setUint32(88, entriesCrc, true);
  v.setUint32(16, crc32(out.subarray(0, HEADER_SIZE)), true);
  return out;
}

/** The header in `sector`, or the reason it is not a valid one. */
export function decodeHeader(sector: Uint8Array, expectedLba: number): GptHeader | { error: string } {
  const v = new DataView(sector.buffer, sector.byteOffset, sector.byteLength);
  if (new TextDecoder().decode(sector.subarray(0, 8)) !== SIGNATURE) return { error: `no "${SIGNATURE}" signature` };
  const headerSize = v.getUint32(12, true);
  if (headerSize < HEADER_SIZE || headerSize > sector.length) return { error: `header size ${headerSize} outside ${HEADER_SIZE}..${sector.length}` };
  const copy = Uint8Array.from(sector.subarray(0, headerSize));
  new DataView(copy.buffer).setUint32(16, 0, true);
  const stored = v.getUint32(16, true);
  const computed = crc32(copy);
  if (stored !== computed) return { error: `header CRC32 mismatch (stored ${hex32(stored)}, computed ${hex32(computed)})` };
  try {
    const h: GptHeader = {
      revision: v.getUint32(8, true),
      headerSize,
      myLba: getU64(v, 24, "MyLBA"),
      alternateLba: getU64(v, 32, "AlternateLBA"),
      firstUsableLba: getU64(v, 40, "FirstUsableLBA"),
      lastUsableLba: getU64(v, 48, "LastUsableLBA"),
      diskGuid: guidFromBytes(sector.subarray(56, 72)),
      entriesLba: getU64(v, 72, "PartitionEntryLBA"),
      entryCount: v.getUint32(80, true),
      entrySize: v.getUint32(84, true),
      entriesCrc: v.getUint32(88, true),
    };
    if (h.myLba !== expectedLba) return { error: `header says it is at LBA ${h.myLba}, found at LBA ${expectedLba}` };
    if (h.entrySize < 128 || h.entrySize % 128 !== 0) return { error: `entry size ${h.entrySize} is not a multiple of 128` };
    if (h.entryCount < 1 || h.entryCount * h.entrySize > 4 * MiB) return { error: `entry array of ${h.entryCount} x ${h.entrySize} bytes is implausible` };
    if (h.firstUsableLba > h.lastUsableLba) return { error: `first usable LBA ${h.firstUsableLba} after last usable ${h.lastUsableLba}` };
    return h;
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/**
 * LBA 0: a protective MBR with one partition of type 0xEE covering the disk (capped at 2^32-1
 * sectors), so MBR-only tools see the disk as in use. The boot code area is left zero.
 */
export function encodeProtectiveMbr(totalSectors: number, sectorSize: number): Uint8Array {
  const out = new Uint8Array(sectorSize);
  const v = new DataView(out.buffer);
  const e = 446;
  out[e + 0] = 0x00; // not active
  out.set([0x00, 0x02, 0x00], e + 1); // CHS of LBA 1
  out[e + 4] = 0xee;
  out.set([0xff, 0xff, 0xff], e + 5); // CHS "too large"
  v.setUint32(e + 8, 1, true);
  v.setUint32(e + 12, Math.min(totalSectors - 1, 0xffffffff), true);
  out[510] = 0x55;
  out[511] = 0xaa;
  return out;
}

/** Whether LBA 0 holds an MBR with a GPT-protective (0xEE) partition, and if not, why. */
export function checkProtectiveMbr(sector: Uint8Array): { ok: true } | { ok: false; reason: string } {
  if (sector[510] !== 0x55 || sector[511] !== 0xaa) return { ok: false, reason: "no 55 AA boot signature in LBA 0" };
  for (let i = 0; i < 4; i++) if (sector[446 + i * 16 + 4] === 0xee) return { ok: true };
  return { ok: false, reason: "LBA 0 is an MBR without a protective 0xEE partition" };
}

export function hex32(n: number): string {
  return "0x" + n.toString(16).padStart(8, "0");
}
