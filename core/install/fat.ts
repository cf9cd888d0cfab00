/**
 * Reading and rewriting, in place, a file that already exists on a FAT32 filesystem inside a
 * disk (at a byte offset): how a running node updates grubenv on the EFI partition without
 * mounting it or carrying mtools. Only the file's existing clusters are overwritten; its size,
 * directory entry and the FAT are never touched, so there is no allocation to tear. Short (8.3)
 * names only, which is what mtools writes for GRUB, GRUBENV and GRUB.CFG.
 */
import type { DiskDevice } from "../gpt/device.ts";

interface Fat32 {
  bytesPerSector: number;
  clusterBytes: number;
  fatOffset: number;
  dataOffset: number;
  rootCluster: number;
}

function geometry(dev: DiskDevice, offset: number): Fat32 {
  const b = dev.read(offset, 512);
  const v = new DataView(b.buffer, b.byteOffset, 512);
  const bps = v.getUint16(0x0b, true);
  const spc = b[0x0d]!;
  const reserved = v.getUint16(0x0e, true);
  const fats = b[0x10]!;
  const fatSectors = v.getUint32(0x24, true);
  if (b[510] !== 0x55 || b[511] !== 0xaa || ![512, 1024, 2048, 4096].includes(bps) || spc === 0 || fats === 0 || v.getUint16(0x16, true) !== 0 || fatSectors === 0) {
    throw new Error(`${dev.path}: no FAT32 filesystem at byte ${offset}`);
  }
  return { bytesPerSector: bps, clusterBytes: bps * spc, fatOffset: offset + reserved * bps, dataOffset: offset + (reserved + fats * fatSectors) * bps, rootCluster: v.getUint32(0x2c, true) };
}

/** The clusters of a chain, bounded so a looping FAT cannot hang us. */
function chain(dev: DiskDevice, g: Fat32, first: number, maxClusters: number): number[] {
  const out: number[] = [];
  let c = first;
  while (c >= 2 && c < 0x0ffffff8) {
    if (out.length >= maxClusters) throw new Error(`${dev.path}: FAT chain from cluster ${first} is longer than ${maxClusters} clusters (corrupt FAT?)`);
    out.push(c);
    const e = dev.read(g.fatOffset + c * 4, 4);
    c = new DataView(e.buffer, e.byteOffset, 4).getUint32(0, true) & 0x0fffffff;
  }
  return out;
}

const clusterAt = (g: Fat32, c: number) => g.dataOffset + (c - 2) * g.clusterBytes;

function shortName(name: string): string {
  const up = name.toUpperCase();
  const dot = up.lastIndexOf(".");
  const base = dot > 0 ? up.slice(0, dot) : up;
  const ext = dot > 0 ? up.slice(dot + 1) : "";
  if (base.length > 8 || ext.length > 3) throw new Error(`FAT: '${name}' is not an 8.3 name`);
  return base.padEnd(8) + ext.padEnd(3);
}

interface Entry { cluster: number; size: number; dir: boolean }

function lookup(dev: DiskDevice, g: Fat32, dirCluster: number, name: string): Entry | undefined {
  const want = shortName(name);
  for (const c of chain(dev, g, dirCluster, 4096)) {
    const data = dev.read(clusterAt(g, c), g.clusterBytes);
    for (let at = 0; at + 32 <= data.length; at += 32) {
      const first = data[at]!;
      if (first === 0) return undefined;
      const attr = data[at + 11]!;
      if (first === 0xe5 || attr === 0x0f || attr & 0x08) continue;
      if (String.fromCharCode(...data.subarray(at, at + 11)) !== want) continue;
      const v = new DataView(data.buffer, data.byteOffset + at, 32);
      return { cluster: (v.getUint16(20, true) << 16) | v.getUint16(26, true), size: v.getUint32(28, true), dir: (attr & 0x10) !== 0 };
    }
  }
  return undefined;
}

function resolve(dev: DiskDevice, offset: number, path: string): { g: Fat32; file: Entry } {
  const g = geometry(dev, offset);
  const parts = path.split("/").filter(Boolean);
  let dir = g.rootCluster;
  for (const [i, p] of parts.entries()) {
    const e = lookup(dev, g, dir, p);
    if (!e) throw new Error(`${dev.path}: FAT at byte ${offset} has no ${parts.slice(0, i + 1).join("/")}`);
    if (i === parts.length - 1) {
      if (e.dir) throw new Error(`${dev.path}: ${path} is a directory`);
      return { g, file: e };
    }
    if (!e.dir) throw new Error(`${dev.path}: ${parts.slice(0, i + 1).join("/")} is not a directory`);
    dir = e.cluster;
  }
  throw new Error(`FAT: empty path`);
}

/** The bytes of the file at `path` (e.g. "grub/grubenv") in the FAT32 filesystem at `offset`. */
export function readFatFile(dev: DiskDevice, offset: number, path: string): Uint8Array {
  const { g, file } = resolve(dev, offset, path);
  const out = new Uint8Array(file.size);
  let done = 0;
  for (const c of chain(dev, g, file.cluster, Math.ceil(file.size / g.clusterBytes))) {
    const n = Math.min(g.clusterBytes, file.size - done);
    out.set(dev.read(clusterAt(g, c), n), done);
    done += n;
  }
  if (done !== file.size) throw new Error(`${dev.path}: ${path} has ${file.size} bytes but its clusters hold ${done}`);
  return out;
}

/** Overwrites the existing file at `path` with `data` of exactly its size, then syncs. */
export function rewriteFatFile(dev: DiskDevice, offset: number, path: string, data: Uint8Array): void {
  const { g, file } = resolve(dev, offset, path);
  if (data.length !== file.size) throw new Error(`${dev.path}: ${path} has ${file.size} bytes; an in-place rewrite must keep that size, got ${data.length}`);
  let done = 0;
  for (const c of chain(dev, g, file.cluster, Math.ceil(file.size / g.clusterBytes))) {
    const n = Math.min(g.clusterBytes, file.size - done);
    dev.write(clusterAt(g, c), data.subarray(done, done + n));
    done += n;
  }
  dev.sync();
}
