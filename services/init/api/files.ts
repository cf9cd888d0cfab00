/**
 * List and Read: files under an allow-list of roots, nowhere else. A path is judged by where it
 * really leads (symlinks and ".." resolved), so a link inside a root that points outside is
 * refused like the outside path itself. Listings never follow symlinks into directories.
 */
import { lstatSync, readdirSync, readlinkSync, realpathSync, type Stats } from "node:fs";
import { open } from "node:fs/promises";
import { isAbsolute, join, relative, sep } from "node:path";
import { ApiError } from "./errors.ts";

/** On a node: configuration, logs and runtime state, and the kernel's views; not the whole root. */
export const NODE_ROOTS = ["/etc", "/var", "/run", "/tmp", "/system", "/proc", "/sys"];

const CHUNK = 64 * 1024;
/** A listing stops after this many entries (with an error entry saying so). */
export const MAX_ENTRIES = 100_000;

export interface FileEntry {
  name: string; relativeName: string; size: number; mode: number; modified: number; isDir: boolean;
  link: string; error: string; uid: number; gid: number;
}

const within = (path: string, root: string) => path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);

/** The real path of `path` if it lies under one of `roots` (compared by their real paths too); else PERMISSION_DENIED. */
export function resolveAllowed(path: string, roots: readonly string[]): string {
  if (!path || !isAbsolute(path)) throw new ApiError("invalid_argument", `path ${JSON.stringify(path)}: expected an absolute path`);
  let real: string;
  try {
    real = realpathSync(path);
  } catch (err) {
    throw new ApiError("not_found", `${path}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file or directory" : (err as Error).message}`);
  }
  const realRoots = roots.flatMap((r) => { try { return [realpathSync(r)]; } catch { return []; } });
  if (!realRoots.some((r) => within(real, r))) {
    const shown = real === path ? path : `${path} (which leads to ${real})`;
    throw new ApiError("permission_denied", `${shown} is outside the readable roots: ${roots.join(", ")}`);
  }
  return real;
}

function entry(path: string, root: string, st: Stats | undefined, error = ""): FileEntry {
  let link = "";
  if (st?.isSymbolicLink()) { try { link = readlinkSync(path); } catch { /* raced away */ } }
  return {
    name: path, relativeName: relative(root, path) || ".", size: st?.size ?? 0, mode: st?.mode ?? 0, modified: st?.mtimeMs ?? 0,
    isDir: st?.isDirectory() ?? false, link, error, uid: st?.uid ?? 0, gid: st?.gid ?? 0,
  };
}

/** Entries under `root` (itself first), depth-first, sorted by name; depth 0 = unlimited with recurse. */
export async function* listFiles(rootPath: string, roots: readonly string[], o: { recurse?: boolean; depth?: number; signal?: AbortSignal } = {}): AsyncGenerator<FileEntry> {
  const root = resolveAllowed(rootPath, roots);
  const maxDepth = !o.recurse ? 1 : o.depth && o.depth > 0 ? o.depth : Infinity;
  let count = 0;
  const stack: { path: string; depth: number }[] = [{ path: root, depth: 0 }];
  while (stack.length && !o.signal?.aborted) {
    const { path, depth } = stack.pop()!;
    let st: Stats;
    try { st = lstatSync(path); } catch (err) { yield entry(path, root, undefined, (err as Error).message); continue; }
    yield entry(path, root, st);
    if (++count >= MAX_ENTRIES) { yield entry(root, root, undefined, `listing stopped after ${MAX_ENTRIES} entries`); return; }
    if (!st.isDirectory() || depth >= maxDepth) continue;
    let names: string[];
    try { names = readdirSync(path).sort(); } catch (err) { yield entry(path, root, st, (err as Error).message); continue; }
    for (const n of names.reverse()) stack.push({ path: join(path, n), depth: depth + 1 });
    if (count % 256 === 0) await Promise.resolve(); // let cancellation and other calls in
  }
}

/** The file's bytes in chunks of at most 64 KiB; /proc and /sys files (size 0) read to their end. */
export async function* readFile(path: string, roots: readonly string[], signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  const real = resolveAllowed(path, roots);
  const fh = await open(real, "r");
  try {
    if ((await fh.stat()).isDirectory()) throw new ApiError("invalid_argument", `${path}: is a directory (use List)`);
    const buf = Buffer.alloc(CHUNK);
    while (!signal?.aborted) {
      const { bytesRead } = await fh.read(buf, 0, CHUNK, null);
      if (bytesRead === 0) return;
      yield Uint8Array.from(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
}
