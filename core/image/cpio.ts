/**
 * A writer of cpio "newc" archives, the format the kernel unpacks as an initramfs. Written here
 * rather than by GNU cpio so the archive is reproducible by construction: entries sorted by path,
 * every owner root, every mtime fixed, inode numbers assigned in order.
 */
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";

export type CpioEntry =
  | { path: string; type: "dir"; mode?: number }
  | { path: string; type: "file"; mode?: number; data: Uint8Array }
  | { path: string; type: "file"; mode?: number; source: string }
  | { path: string; type: "symlink"; target: string }
  | { path: string; type: "char"; mode?: number; major: number; minor: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

/** Normalises an archive path: no leading "/" or "./", no empty or ".." parts. */
export function cpioPath(p: string): string {
  const parts = p.split("/").filter((x) => x !== "" && x !== ".");
  if (parts.length === 0) throw new Error(`cpio: empty path '${p}'`);
  if (parts.includes("..")) throw new Error(`cpio: path '${p}' contains '..'`);
  return parts.join("/");
}

function hex8(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`cpio: field value ${n} does not fit 32 bits`);
  return n.toString(16).padStart(8, "0");
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

/**
 * Sorts the entries, adds missing parent directories (mode 0755) and rejects duplicates.
 * Returns the list in archive order.
 */
export function cpioOrder(entries: CpioEntry[]): CpioEntry[] {
  const byPath = new Map<string, CpioEntry>();
  for (const e of entries) {
    const path = cpioPath(e.path);
    if (byPath.has(path)) throw new Error(`cpio: '${path}' is listed twice`);
    byPath.set(path, { ...e, path });
  }
  for (const path of [...byPath.keys()]) {
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join("/");
      const have = byPath.get(parent);
      if (!have) byPath.set(parent, { path: parent, type: "dir" });
      else if (have.type !== "dir") throw new Error(`cpio: '${parent}' is not a directory but '${path}' is inside it`);
    }
  }
  // Byte order (not locale order): the same on every machine.
  return [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function header(ino: number, mode: number, nlink: number, mtime: number, size: number, rmaj: number, rmin: number, nameLen: number): string {
  // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check
  return "070701" + [ino, mode, 0, 0, nlink, mtime, size, 0, 0, rmaj, rmin, nameLen, 0].map(hex8).join("");
}

/**
 * Writes the archive to `out` (created or truncated). `mtime` (seconds) is given to every entry.
 * Returns the number of bytes written.
 */
export function writeCpio(out: string, entries: CpioEntry[], mtime = 0): number {
  const fd = openSync(out, "w", 0o644);
  let written = 0;
  const put = (b: Uint8Array | string) => {
    const buf = typeof b === "string" ? Buffer.from(b, "latin1") : b;
    let off = 0;
    while (off < buf.byteLength) off += writeSync(fd, buf, off, buf.byteLength - off);
    written += buf.byteLength;
  };
  const zeros = (n: number) => n > 0 && put(Buffer.alloc(n));
  const record = (ino: number, mode: number, nlink: number, data: Uint8Array, name: string, rmaj = 0, rmin = 0) => {
    const nameBytes = Buffer.from(name + "\0", "utf8");
    const head = header(ino, mode, nlink, mtime, data.byteLength, rmaj, rmin, nameBytes.byteLength);
    put(head);
    put(nameBytes);
    zeros(pad4(head.length + nameBytes.byteLength));
    put(data);
    zeros(pad4(data.byteLength));
  };
  try {
    let ino = 1;
    for (const e of cpioOrder(entries)) {
      const perm = ("mode" in e && e.mode !== undefined ? e.mode : e.type === "dir" ? 0o755 : 0o644) & 0o7777;
      switch (e.type) {
        case "dir":
          record(ino++, S_IFDIR | perm, 2, new Uint8Array(0), e.path);
          break;
        case "file": {
          const data = "data" in e ? e.data : readFileSync(e.source);
          record(ino++, S_IFREG | perm, 1, data, e.path);
          break;
        }
        case "symlink":
          record(ino++, S_IFLNK | 0o777, 1, Buffer.from(e.target, "utf8"), e.path);
          break;
        case "char":
          record(ino++, S_IFCHR | perm, 1, new Uint8Array(0), e.path, e.major, e.minor);
          break;
      }
    }
    record(0, 0, 1, new Uint8Array(0), "TRAILER!!!");
  } finally {
    closeSync(fd);
  }
  return written;
}

/** One entry as read back from an archive (for listing and tests). */
export interface CpioListed {
  path: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  size: number;
  /** For symlinks: the target. */
  target?: string;
}

/**
 * Calls `visit` for each entry of a (non-compressed) newc archive until it returns true. Returns
 * the offset just past the trailer record (undefined when `visit` stopped the walk first).
 */
function walkCpio(archive: Uint8Array, visit: (e: CpioListed, data: Uint8Array) => boolean | void): number | undefined {
  const text = (o: number, n: number) => Buffer.from(archive.buffer, archive.byteOffset + o, n).toString("latin1");
  let off = 0;
  for (;;) {
    if (off + 110 > archive.byteLength) throw new Error(`cpio: truncated header at byte ${off}`);
    const magic = text(off, 6);
    if (magic !== "070701") throw new Error(`cpio: bad magic '${magic}' at byte ${off}`);
    const f = (i: number) => parseInt(text(off + 6 + i * 8, 8), 16);
    const mode = f(1), uid = f(2), gid = f(3), mtime = f(5), size = f(6), nameLen = f(11);
    const name = text(off + 110, nameLen - 1);
    const dataOff = off + 110 + nameLen + pad4(110 + nameLen);
    if (name === "TRAILER!!!") return dataOff;
    const data = archive.subarray(dataOff, dataOff + size);
    const entry: CpioListed = { path: name, mode, uid, gid, mtime, size };
    if ((mode & 0o170000) === S_IFLNK) entry.target = Buffer.from(data).toString("utf8");
    if (visit(entry, data)) return undefined;
    off = dataOff + size + pad4(size);
  }
}

/** Lists a (non-compressed) newc archive. */
export function listCpio(archive: Uint8Array): CpioListed[] {
  const out: CpioListed[] = [];
  walkCpio(archive, (e) => void out.push(e));
  return out;
}

/** The data of one file in a (non-compressed) newc archive, or undefined. */
export function readCpioFile(archive: Uint8Array, path: string): Uint8Array | undefined {
  let found: Uint8Array | undefined;
  walkCpio(archive, (e, data) => {
    if (e.path === path) found = data;
    return found !== undefined;
  });
  return found;
}

/** The length of the newc archive at the start of `archive` (through its trailer), when more follows it. */
export function cpioLength(archive: Uint8Array): number {
  return walkCpio(archive, () => false)!;
}
