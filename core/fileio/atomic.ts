/**
 * Whole-file writes that never leave a torn file: the data goes to a temporary file in the same
 * directory, is fsynced, then takes the final name in one step. A crash leaves either the old
 * file or the new one (plus perhaps a stray temporary, never under the real name).
 */
import { randomBytes } from "node:crypto";
import { closeSync, fchmodSync, fchownSync, fsyncSync, linkSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";

export interface AtomicWriteOptions {
  /** Permission bits of the new file (applied with fchmod, so the umask cannot widen or narrow them). */
  mode?: number;
  /** false (default): fail with code EEXIST when the file exists, without touching it. */
  overwrite?: boolean;
  /** Owner of the new file, set before it takes the final name (so it is never briefly root's). */
  owner?: FileOwner;
}

export interface FileOwner {
  uid: number;
  gid: number;
}

export class FileExistsError extends Error {
  readonly code = "EEXIST";
  constructor(readonly path: string) {
    super(`${path} already exists`);
    this.name = "FileExistsError";
  }
}

export function writeFileAtomic(path: string, data: string | Uint8Array, o: AtomicWriteOptions = {}): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  const bytes = typeof data === "string" ? Buffer.from(data) : data;
  const mode = o.mode ?? 0o644;
  const fd = openSync(tmp, "wx", mode);
  try {
    fchmodSync(fd, mode);
    if (o.owner) fchownSync(fd, o.owner.uid, o.owner.gid);
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw e;
  }
  closeSync(fd);
  try {
    if (o.overwrite) renameSync(tmp, path);
    else {
      // link() fails if the name is taken, so two writers can never clobber each other.
      try {
        linkSync(tmp, path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EEXIST") throw new FileExistsError(path);
        throw e;
      } finally {
        unlinkSync(tmp);
      }
    }
  } catch (e) {
    try { unlinkSync(tmp); } catch { /* already renamed or removed */ }
    throw e;
  }
  syncDir(dir);
}

/**
 * Makes a rename durable: the directory entry itself must reach the disk (without it the rename
 * can be lost on a power cut: bench/crash.ts --qemu-rounds saw STATE one write behind what was
 * acknowledged).
 */
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on directories; the data itself is already synced.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Replaces a file of the node's own state (a saved config, certificates, member lists): mode
 * 0600, optionally owned by the service that reads it.
 */
export function writeAtomic(path: string, text: string, owner?: FileOwner): void {
  writeFileAtomic(path, text, { mode: 0o600, overwrite: true, owner });
}
