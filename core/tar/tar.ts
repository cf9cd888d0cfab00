/**
 * A small tar writer (POSIX ustar, with a pax header for what ustar cannot hold: names over its
 * 100+155 bytes, sizes of 8 GiB and more). Enough for archives this program makes from data it
 * already has (support bundles, a copied directory); GNU tar, bsdtar and busybox read them.
 * Only regular files and directories: nothing here needs links or devices.
 */

const BLOCK = 512;

export interface TarEntry {
  /** Path inside the archive, relative, "/"-separated; a directory's may end with "/". */
  name: string;
  type?: "file" | "dir";
  /** A file's contents (text as UTF-8). */
  data?: Uint8Array | string;
  /** Permission bits (default 0644 for files, 0755 for directories). */
  mode?: number;
  /** Modification time (default: now). */
  mtime?: Date;
  uid?: number;
  gid?: number;
}

/** An entry that cannot go into an archive, named with why. */
export class TarNameError extends Error {
  constructor(readonly entryName: string, why: string) {
    super(`tar entry "${entryName}": ${why}`);
    this.name = "TarNameError";
  }
}

/** The two zero blocks that end an archive. */
export const TAR_END: Uint8Array = new Uint8Array(2 * BLOCK);

const enc = new TextEncoder();

/** ustar's size field holds 11 octal digits: anything larger goes into the pax header. */
const MAX_OCTAL_SIZE = 8 ** 11 - 1;

function checkName(name: string): string {
  if (name === "" || name.includes("\0")) throw new TarNameError(name, "empty or holds a NUL byte");
  // A name that climbs out of (or ignores) the directory it is extracted into would let an
  // archive write anywhere: refuse to make one.
  if (name.startsWith("/")) throw new TarNameError(name, "absolute paths are not allowed");
  if (name.split("/").includes("..")) throw new TarNameError(name, "\"..\" is not allowed");
  return name;
}

function octal(field: Uint8Array, offset: number, width: number, value: number): void {
  const s = Math.trunc(value).toString(8).padStart(width - 1, "0");
  if (s.length > width - 1) throw new RangeError(`tar: ${value} does not fit ${width - 1} octal digits`);
  field.set(enc.encode(s), offset);
  field[offset + width - 1] = 0;
}

/** ustar splits a long name at a "/" into prefix (155 bytes) and name (100). */
function splitName(name: string): { prefix: string; base: string } | undefined {
  const bytes = enc.encode(name);
  if (bytes.length <= 100) return { prefix: "", base: name };
  for (let i = name.lastIndexOf("/"); i > 0; i = name.lastIndexOf("/", i - 1)) {
    const prefix = name.slice(0, i);
    const base = name.slice(i + 1);
    if (enc.encode(prefix).length <= 155 && enc.encode(base).length <= 100 && base !== "") return { prefix, base };
  }
  return undefined;
}

function header(name: string, typeflag: string, size: number, mode: number, mtime: Date, uid: number, gid: number): Uint8Array {
  const h = new Uint8Array(BLOCK);
  const split = splitName(name) ?? { prefix: "", base: name.slice(0, 99) }; // the pax header before it holds the real name
  const put = (s: string, offset: number, max: number) => h.set(enc.encode(s).subarray(0, max), offset);
  put(split.base, 0, 100);
  octal(h, 100, 8, mode & 0o7777);
  octal(h, 108, 8, uid);
  octal(h, 116, 8, gid);
  octal(h, 124, 12, Math.min(size, MAX_OCTAL_SIZE));
  octal(h, 136, 12, Math.max(0, Math.floor(mtime.getTime() / 1000)));
  h.fill(0x20, 148, 156); // the checksum is computed with its own field as spaces
  h[156] = typeflag.charCodeAt(0);
  put("ustar\0", 257, 6);
  put("00", 263, 2);
  put(split.prefix, 345, 155);
  let sum = 0;
  for (const b of h) sum += b;
  put(sum.toString(8).padStart(6, "0"), 148, 6);
  h[154] = 0;
  h[155] = 0x20;
  return h;
}

/** One pax record: "LEN key=value\n", LEN counting itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const n = enc.encode(body).length;
  let len = n + String(n).length;
  if (String(len).length !== String(n).length) len = n + String(len).length;
  return `${len}${body}`;
}

function padded(data: Uint8Array): Uint8Array[] {
  const rest = data.length % BLOCK;
  return rest === 0 ? [data] : [data, new Uint8Array(BLOCK - rest)];
}

/** The blocks of one entry (headers, data, padding), to write or stream in order. */
export function tarEntry(e: TarEntry): Uint8Array[] {
  const dir = e.type === "dir";
  let name = checkName(e.name);
  if (dir && !name.endsWith("/")) name += "/";
  const data = dir ? new Uint8Array(0) : typeof e.data === "string" ? enc.encode(e.data) : (e.data ?? new Uint8Array(0));
  const mode = e.mode ?? (dir ? 0o755 : 0o644);
  const mtime = e.mtime ?? new Date();
  const uid = e.uid ?? 0;
  const gid = e.gid ?? 0;
  const out: Uint8Array[] = [];
  let pax = "";
  if (!splitName(name)) pax += paxRecord("path", name);
  if (data.length > MAX_OCTAL_SIZE) pax += paxRecord("size", String(data.length));
  if (pax) {
    const body = enc.encode(pax);
    out.push(header(`PaxHeaders/${name.split("/").filter((p) => p).pop()!.slice(0, 80)}`, "x", body.length, 0o644, mtime, 0, 0), ...padded(body));
  }
  out.push(header(name, dir ? "5" : "0", data.length, mode, mtime, uid, gid), ...padded(data));
  return out;
}

/** A whole archive (uncompressed) of the entries, in order. */
export function tarArchive(entries: Iterable<TarEntry>): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) parts.push(...tarEntry(e));
  parts.push(TAR_END);
  return Buffer.concat(parts);
}
