/**
 * A disk as a range of bytes read and written at offsets: an image file or a block device,
 * through node:fs only. The size of a block device is not in fstat (it says 0), so it comes
 * from sysfs by the device's major:minor, as does its logical sector size.
 */
import { closeSync, fstatSync, fsyncSync, openSync, readFileSync, readSync, writeSync, constants } from "node:fs";

export interface DiskDevice {
  readonly path: string;
  /** Size in bytes. */
  readonly size: number;
  /** Logical sector size in bytes: 512 or 4096. */
  readonly sectorSize: number;
  read(offset: number, length: number): Uint8Array;
  write(offset: number, data: Uint8Array): void;
  /** Flush written data to stable storage. */
  sync(): void;
  close(): void;
}

export interface OpenOptions {
  /** Open for writing too (default: read-only). */
  write?: boolean;
  /** Sector size of an image file (default 512); a block device reports its own. */
  sectorSize?: number;
}

function major(rdev: number): number {
  return ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
}
function minor(rdev: number): number {
  return (rdev & 0xff) | ((rdev >>> 12) & ~0xff);
}

function sysfsNumber(file: string, what: string): number {
  const text = readFileSync(file, "utf8").trim();
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${file}: expected ${what} as a number, got "${text}"`);
  return n;
}

export function openDisk(path: string, opts: OpenOptions = {}): DiskDevice {
  const fd = openSync(path, opts.write ? constants.O_RDWR : constants.O_RDONLY);
  try {
    const st = fstatSync(fd);
    let size: number;
    let sectorSize = opts.sectorSize ?? 512;
    if (st.isBlockDevice()) {
      const dev = `/sys/dev/block/${major(st.rdev)}:${minor(st.rdev)}`;
      // sysfs counts `size` in 512-byte units whatever the device's own sector size.
      size = sysfsNumber(`${dev}/size`, "a size in 512-byte units") * 512;
      try {
        sectorSize = sysfsNumber(`${dev}/queue/logical_block_size`, "a sector size");
      } catch {
        // Partitions have no queue/ of their own; keep the default.
      }
    } else if (st.isFile()) {
      size = st.size;
    } else {
      throw new Error(`${path}: neither a regular file nor a block device`);
    }
    if (sectorSize !== 512 && sectorSize !== 4096) throw new Error(`${path}: unsupported sector size ${sectorSize} (512 or 4096)`);
    return new FdDisk(path, fd, size, sectorSize);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

class FdDisk implements DiskDevice {
  constructor(readonly path: string, private fd: number, readonly size: number, readonly sectorSize: number) {}

  read(offset: number, length: number): Uint8Array {
    if (offset < 0 || offset + length > this.size) throw new Error(`${this.path}: read of ${length} bytes at ${offset} is outside the disk (${this.size} bytes)`);
    const buf = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, buf, done, length - done, offset + done);
      if (n === 0) throw new Error(`${this.path}: unexpected end of data at ${offset + done}`);
      done += n;
    }
    return buf;
  }

  write(offset: number, data: Uint8Array): void {
    if (offset < 0 || offset + data.length > this.size) throw new Error(`${this.path}: write of ${data.length} bytes at ${offset} is outside the disk (${this.size} bytes)`);
    let done = 0;
    while (done < data.length) done += writeSync(this.fd, data, done, data.length - done, offset + done);
  }

  sync(): void {
    fsyncSync(this.fd);
  }

  close(): void {
    closeSync(this.fd);
  }
}
