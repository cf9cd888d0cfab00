/**
 * List and Read: files under an allow-list of roots, nowhere else. A file is opened beneath its
 * root in one step (openat2 with RESOLVE_BENEATH and RESOLVE_NO_MAGICLINKS) and then read or
 * listed through that descriptor, never by its path again: a symlink swapped in between a check
 * and an open (the roots include world-writable /tmp) cannot lead outside. Symlinks are followed
 * while they stay inside the root; one that leaves it is refused, except that a last component
 * pointing to an absolute path is judged again as that path (the node's /etc/hostname leads to
 * /system/etc/hostname, also a root). `..` is refused outright, and /proc's magic links
 * (/proc/PID/fd/N, root, cwd) are never followed. Listings never follow symlinks into
 * directories: each directory below the first is opened with no symlink on its way.
 */
import { closeSync, fstatSync, lstatSync, read, readdirSync, readlinkSync, realpathSync, type Stats } from "node:fs";
import { isAbsolute } from "node:path";
import { SysError } from "../../../core/sys/libc.ts";
import { AT_FDCWD, O, OPENAT2_ERRNO as E, openat2, RESOLVE } from "../../../core/sys/openat2.ts";
import { BunkerError } from "../../../core/errors.ts";

/** On a node: configuration, logs and runtime state, and the kernel's views; not the whole root. */
export const NODE_ROOTS = ["/etc", "/var", "/run", "/tmp", "/system", "/proc", "/sys"];

const CHUNK = 64 * 1024;
/** A listing stops after this many entries (with an error entry saying so). */
export const MAX_ENTRIES = 100_000;
/** Absolute symlinks followed from one root into another, at most. */
const MAX_HOPS = 8;
const BENEATH = RESOLVE.BENEATH | RESOLVE.NO_MAGICLINKS;

export interface FileEntry {
  name: string; relativeName: string; size: number; mode: number; modified: number; isDir: boolean;
  link: string; error: string; uid: number; gid: number;
}

/** `path` split at the root it lies under (the longest; roots compared as given and by their real paths). */
function locate(path: string, roots: readonly string[]): { shown: string; root: string; rest: string } {
  if (typeof path !== "string" || !path || !isAbsolute(path) || path.includes("\0")) {
    throw new BunkerError("invalid_argument", `path ${JSON.stringify(path)}: expected an absolute path`);
  }
  const parts = path.split("/").filter((c) => c !== "" && c !== ".");
  if (parts.includes("..")) throw new BunkerError("invalid_argument", `path ${JSON.stringify(path)}: ".." is not allowed; name the path itself`);
  const shown = `/${parts.join("/")}`;
  const candidates = roots.flatMap((r) => {
    const own = `/${r.split("/").filter((c) => c !== "" && c !== ".").join("/")}`;
    try { return [own, realpathSync(r)]; } catch { return [own]; }
  });
  let root: string | undefined;
  for (const c of candidates) {
    const inside = shown === c || shown.startsWith(c === "/" ? "/" : `${c}/`);
    if (inside && (root === undefined || c.length > root.length)) root = c;
  }
  if (root === undefined) throw new BunkerError("permission_denied", `${path} is outside the readable roots: ${roots.join(", ")}`);
  return { shown, root, rest: shown.slice(root.length).replace(/^\//, "") || "." };
}

/** An openat2 failure as the API says it. */
function openError(err: unknown, path: string, root: string): BunkerError {
  if (!(err instanceof SysError)) return new BunkerError("internal", `${path}: ${(err as Error)?.message ?? String(err)}`);
  switch (err.errno) {
    case E.ENOENT: return new BunkerError("not_found", `${path}: no such file or directory`);
    case E.ENOTDIR: return new BunkerError("not_found", `${path}: a component on the way is not a directory`);
    case E.EXDEV: return new BunkerError("permission_denied", `${path} leads outside ${root} (a symlink pointing out of the readable root is not followed)`);
    case E.ELOOP: return new BunkerError("permission_denied", `${path}: a symlink loop, or a /proc magic link (fd, root, cwd), which is not followed`);
    case E.EACCES: return new BunkerError("permission_denied", `${path}: permission denied`);
    case E.ENOSYS: return new BunkerError("unimplemented", "this kernel has no openat2 (Linux 5.6 or later is needed to read files safely)");
    default: return new BunkerError("internal", `${path}: ${err.message}`);
  }
}

/**
 * Opens `path` beneath its root in one step. A last component that is a symlink to an absolute
 * path (refused by RESOLVE_BENEATH) is read through its parent's descriptor and that path is
 * judged afresh, against the roots, the same way.
 */
function openBeneath(path: string, roots: readonly string[], flags: number, hops = 0, asked = path): { fd: number; shown: string } {
  let where: ReturnType<typeof locate>;
  try {
    where = locate(path, roots);
  } catch (err) {
    // Name what the caller asked for too when a symlink led here.
    if (err instanceof BunkerError && asked !== path) throw new BunkerError(err.code, `${asked} (which leads to ${path}): ${err.message}`);
    throw err;
  }
  const { shown, root, rest } = where;
  let rootFd: number;
  try {
    rootFd = openat2(AT_FDCWD, root, O.PATH | O.DIRECTORY, 0);
  } catch (err) {
    throw openError(err, path, root);
  }
  try {
    return { fd: openat2(rootFd, rest, flags | O.NOCTTY, BENEATH), shown };
  } catch (err) {
    if (err instanceof SysError && err.errno === E.EXDEV && hops < MAX_HOPS) {
      const target = lastLinkTarget(rootFd, rest);
      if (target?.startsWith("/")) return openBeneath(target, roots, flags, hops + 1, asked);
    }
    throw openError(err, path, root);
  } finally {
    closeSync(rootFd);
  }
}

/** The target of `rest`'s last component if it is a symlink, read beneath `rootFd`. */
function lastLinkTarget(rootFd: number, rest: string): string | undefined {
  const slash = rest.lastIndexOf("/");
  const parent = slash < 0 ? "." : rest.slice(0, slash);
  const name = rest.slice(slash + 1);
  let fd: number;
  try { fd = openat2(rootFd, parent, O.PATH | O.DIRECTORY, BENEATH); } catch { return undefined; }
  try { return readlinkSync(`/proc/self/fd/${fd}/${name}`); } catch { return undefined; } finally { closeSync(fd); }
}

function entry(name: string, relativeName: string, st: Stats | undefined, link = "", error = ""): FileEntry {
  return {
    name, relativeName, size: st?.size ?? 0, mode: st?.mode ?? 0, modified: st?.mtimeMs ?? 0,
    isDir: st?.isDirectory() ?? false, link, error, uid: st?.uid ?? 0, gid: st?.gid ?? 0,
  };
}

const join = (a: string, b: string) => (a === "." ? b : `${a}/${b}`);
const under = (dir: string, rel: string) => (rel === "." ? dir : `${dir === "/" ? "" : dir}/${rel}`);

/** Entries under `root` (itself first), depth-first, sorted by name; depth 0 = unlimited with recurse. */
export async function* listFiles(rootPath: string, roots: readonly string[], o: { recurse?: boolean; depth?: number; signal?: AbortSignal } = {}): AsyncGenerator<FileEntry> {
  // O_NONBLOCK: a FIFO named here must not block init; it is listed, never read.
  const { fd: top, shown } = openBeneath(rootPath, roots, O.RDONLY | O.NONBLOCK);
  try {
    const maxDepth = !o.recurse ? 1 : o.depth && o.depth > 0 ? o.depth : Infinity;
    const st = fstatSync(top);
    yield entry(shown, ".", st);
    let count = 1;
    if (!st.isDirectory()) return;
    // Entries still to yield, each statted (and its link read) through its directory's descriptor.
    const stack: { rel: string; depth: number; st?: Stats; link: string; error: string }[] = [];
    const readDir = (fd: number, rel: string, depth: number): string => {
      let names: string[];
      try { names = readdirSync(`/proc/self/fd/${fd}`).sort(); } catch (err) { return (err as Error).message; }
      for (const n of names.reverse()) {
        const at = `/proc/self/fd/${fd}/${n}`;
        let s: Stats | undefined;
        let link = "";
        let error = "";
        try { s = lstatSync(at); } catch (err) { error = (err as Error).message; }
        if (s?.isSymbolicLink()) { try { link = readlinkSync(at); } catch { /* raced away */ } }
        stack.push({ rel: join(rel, n), depth, st: s, link, error });
      }
      return "";
    };
    const firstError = readDir(top, ".", 1);
    if (firstError) { yield entry(shown, ".", st, "", firstError); return; }
    while (stack.length && !o.signal?.aborted) {
      const it = stack.pop()!;
      yield entry(under(shown, it.rel), it.rel, it.st, it.link, it.error);
      if (++count >= MAX_ENTRIES) { yield entry(shown, ".", undefined, "", `listing stopped after ${MAX_ENTRIES} entries`); return; }
      if (!it.st?.isDirectory() || it.depth >= maxDepth) continue;
      // No symlink anywhere on the way down: a directory swapped for one since it was listed is refused.
      let fd: number;
      try {
        fd = openat2(top, it.rel, O.RDONLY | O.DIRECTORY | O.NOFOLLOW, BENEATH | RESOLVE.NO_SYMLINKS);
      } catch (err) {
        yield entry(under(shown, it.rel), it.rel, it.st, "", openError(err, under(shown, it.rel), shown).message);
        continue;
      }
      let error: string;
      try { error = readDir(fd, it.rel, it.depth + 1); } finally { closeSync(fd); }
      if (error) yield entry(under(shown, it.rel), it.rel, it.st, "", error);
      if (count % 256 === 0) await Promise.resolve(); // let cancellation and other calls in
    }
  } finally {
    closeSync(top);
  }
}

/** The file's bytes in chunks of at most 64 KiB; /proc and /sys files (size 0) read to their end. */
export async function* readFile(path: string, roots: readonly string[], signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  const { fd } = openBeneath(path, roots, O.RDONLY | O.NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new BunkerError("invalid_argument", `${path}: is a directory (use List)`);
    // A FIFO, socket or device could block init or have effects when read: regular files only.
    if (!st.isFile()) throw new BunkerError("invalid_argument", `${path}: not a regular file`);
    const buf = Buffer.alloc(CHUNK);
    while (!signal?.aborted) {
      const bytesRead = await new Promise<number>((resolve, reject) => read(fd, buf, 0, CHUNK, null, (err, n) => (err ? reject(err) : resolve(n))));
      if (bytesRead === 0) return;
      yield Uint8Array.from(buf.subarray(0, bytesRead));
    }
  } finally {
    closeSync(fd);
  }
}
