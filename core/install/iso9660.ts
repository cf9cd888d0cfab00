/**
 * Reading files out of an ISO 9660 image (the boot ISO, as a CD drive, a disk or a file) without
 * mounting it: the node's installer copies the medium's /boot files from it, and neither a kernel
 * with iso9660 nor a loop device is needed. Names are taken from Rock Ridge (NM) when the ISO has
 * them (grub-mkrescue writes them), else from the plain ISO name without its ";1" version.
 */
import { closeSync, openSync, readSync, writeSync } from "node:fs";

const SECTOR = 2048;
/** The primary volume descriptor is at sector 16; its root directory record at byte 156. */
const PVD_OFFSET = 16 * SECTOR;
/** More than any directory of a boot medium holds; bounds a loop over a corrupt one. */
const MAX_DIR_BYTES = 1 << 20;

export interface IsoEntry { name: string; extent: number; size: number; dir: boolean }

/** An ISO 9660 volume that cannot be read as one; says where and what. */
export class IsoError extends Error {
  constructor(path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = "IsoError";
  }
}

export class IsoImage {
  private readonly fd: number;
  private readonly root: IsoEntry;

  constructor(readonly path: string) {
    this.fd = openSync(path, "r");
    try {
      const pvd = this.read(PVD_OFFSET, SECTOR);
      if (pvd[0] !== 1 || pvd.toString("latin1", 1, 6) !== "CD001") throw new IsoError(path, "no ISO 9660 primary volume descriptor at sector 16");
      this.root = { ...record(pvd, 156), name: "" };
    } catch (e) {
      closeSync(this.fd);
      throw e;
    }
  }

  close(): void { closeSync(this.fd); }

  private read(offset: number, length: number): Buffer {
    const b = Buffer.alloc(length);
    const n = readSync(this.fd, b, 0, length, offset);
    if (n < length) throw new IsoError(this.path, `short read at byte ${offset} (${n} of ${length})`);
    return b;
  }

  /** The entries of directory `path` ("/" or "/boot"), "." and ".." left out. */
  list(path: string): IsoEntry[] {
    let dir = this.root;
    for (const part of path.split("/").filter(Boolean)) {
      const next = this.entries(dir).find((e) => e.name === part);
      if (!next || !next.dir) throw new IsoError(this.path, `no directory ${path} (at ${part})`);
      dir = next;
    }
    return this.entries(dir);
  }

  private entries(dir: IsoEntry): IsoEntry[] {
    if (dir.size > MAX_DIR_BYTES) throw new IsoError(this.path, `a directory of ${dir.size} bytes is not a boot medium's`);
    const data = this.read(dir.extent * SECTOR, dir.size);
    const out: IsoEntry[] = [];
    for (let at = 0; at < data.length;) {
      const len = data[at]!;
      // A record never crosses a sector: a zero length means the rest of this sector is padding.
      if (len === 0) { at = (Math.floor(at / SECTOR) + 1) * SECTOR; continue; }
      if (len < 34 || at + len > data.length) throw new IsoError(this.path, `a bad directory record at byte ${dir.extent * SECTOR + at}`);
      const r = record(data, at);
      if (r.name !== "\0" && r.name !== "\x01") out.push(r);
      at += len;
    }
    return out;
  }

  /** Copies file `path` to `dest`; returns its size. */
  copyOut(path: string, dest: string): number {
    const slash = path.lastIndexOf("/");
    const e = this.list(path.slice(0, slash) || "/").find((x) => x.name === path.slice(slash + 1));
    if (!e || e.dir) throw new IsoError(this.path, `no file ${path}`);
    const out = openSync(dest, "w", 0o600);
    try {
      for (let done = 0; done < e.size;) {
        const n = Math.min(1 << 20, e.size - done);
        writeSync(out, this.read(e.extent * SECTOR + done, n));
        done += n;
      }
    } finally {
      closeSync(out);
    }
    return e.size;
  }
}

/** The directory record at `at` of `b`: its extent, size, kind and name (Rock Ridge NM first). */
function record(b: Buffer, at: number): IsoEntry {
  const len = b[at]!;
  const extent = b.readUInt32LE(at + 2);
  const size = b.readUInt32LE(at + 10);
  const dir = (b[at + 25]! & 2) !== 0;
  const nameLen = b[at + 32]!;
  const raw = b.toString("latin1", at + 33, at + 33 + nameLen);
  // System use area (Rock Ridge) after the name, padded to an even offset.
  let su = at + 33 + nameLen + (nameLen % 2 === 0 ? 1 : 0);
  let rr = "";
  while (su + 4 <= at + len) {
    const sig = b.toString("latin1", su, su + 2), l = b[su + 2]!;
    if (l < 4 || su + l > at + len) break;
    if (sig === "NM") rr += b.toString("utf8", su + 5, su + l);
    su += l;
  }
  const name = nameLen === 1 && (raw === "\0" || raw === "\x01") ? raw : rr || raw.replace(/;\d+$/, "").replace(/\.$/, "").toLowerCase();
  return { name, extent, size, dir };
}
