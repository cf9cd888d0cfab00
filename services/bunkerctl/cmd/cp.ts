import { closeSync, constants, fchmodSync, futimesSync, mkdirSync, openSync, statSync, unlinkSync, writeSync } from "node:fs";
import { join, posix } from "node:path";
import type { bunker } from "../../../core/api/gen/api.js";
import { MachineService as M } from "../../../core/api/gen/services.ts";
import { formatBytes } from "../../../core/format/bytes.ts";
import { TAR_END, tarEntry } from "../../../core/tar/tar.ts";
import { usageError } from "../args.ts";
import { destinations } from "../client/api.ts";
import { EXIT } from "../client/exitcodes.ts";
import { CONNECT_HELP, runRemote } from "../client/remote.ts";

const HELP = `Usage: bunkerctl cp NODE:PATH LOCAL [connection flags]

Copies a file or a directory (with everything below it) from a node, through the endpoint, as
\`read\` and \`ls\` reach it: os:admin only, and only under the roots the node allows (it says
which when PATH is outside them). LOCAL is a file or folder to write (into an existing folder:
LOCAL/NAME), or - for a tar stream of it on standard output. Modes (permission bits) and
modification times are kept; owners are not. Symlinks, devices, FIFOs and sockets are skipped
and named on standard error; a file that cannot be read is named there too and the rest copied
(exit code 1 then).

${CONNECT_HELP}

Examples:
  bunkerctl cp 10.5.0.2:/var/log ./node-logs
  bunkerctl cp 10.5.0.2:/etc/resolv.conf .
  bunkerctl cp 10.5.0.2:/var/log - | tar -tv`;

type FileInfo = bunker.machine.v1.IFileInfo;

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;

/** NODE:PATH (NODE may be [v6]) -> node and absolute path, or why not. */
export function parseRemotePath(s: string): { node: string; path: string } | string {
  const i = s.indexOf(":/");
  if (i <= 0) return `${s}: expected NODE:/PATH (the node, then the absolute path on it)`;
  return { node: s.slice(0, i).replace(/^\[(.*)\]$/, "$1"), path: s.slice(i + 1) };
}

/** A name from the node that stays inside the copy: relative, no "..". */
function safeRelative(rel: string): boolean {
  return rel !== "" && !rel.startsWith("/") && !rel.includes("\0") && !rel.split("/").includes("..");
}

interface Plan {
  dirs: FileInfo[];
  files: FileInfo[];
  skipped: string[];
}

function plan(entries: FileInfo[]): Plan {
  const p: Plan = { dirs: [], files: [], skipped: [] };
  for (const e of entries.slice(1)) {
    const rel = e.relativeName ?? "";
    if (e.error) p.skipped.push(`${e.name}: ${e.error}`);
    else if (!safeRelative(rel)) p.skipped.push(`${e.name}: refused: its name ${JSON.stringify(rel)} would leave the copy`);
    else if (e.link) p.skipped.push(`${e.name}: a symlink (to ${e.link})`);
    else if (e.isDir) p.dirs.push(e);
    else if (((e.mode ?? 0) & S_IFMT) === S_IFREG) p.files.push(e);
    else p.skipped.push(`${e.name}: not a regular file`);
  }
  return p;
}

const isDir = (p: string) => { try { return statSync(p).isDirectory(); } catch { return false; } };

export function run(argv: string[]): Promise<number> {
  return runRemote(argv, HELP, {}, [2, 2], async (a, r) => {
    const src = parseRemotePath(a.positionals[0]!);
    if (typeof src === "string") return usageError(HELP, src);
    if ((a.values.nodes ?? []).length) return usageError(HELP, "the node is named in NODE:PATH: leave out -n");
    const local = a.positionals[1]!;
    const d = destinations({ ...r.target, nodes: [src.node] })[0]!;
    const bounded = { timeoutMs: r.api.timeoutMs };
    const entries = await Array.fromAsync(r.api.stream(M.List, { root: src.path, recurse: true, recursionDepth: 0 }, d, bounded));
    const top = entries[0];
    if (!top) throw new Error(`${d.label}: ${src.path}: the node listed nothing`);
    if (top.error) throw new Error(`${d.label}: ${src.path}: ${top.error}`);
    const base = posix.basename(top.name || src.path) || "root";
    const p = top.isDir ? plan(entries) : { dirs: [], files: [{ ...top, relativeName: "" }], skipped: [] };
    if (!top.isDir && ((top.mode ?? 0) & S_IFMT) !== S_IFREG) throw new Error(`${d.label}: ${src.path}: not a regular file or directory`);
    const failed: string[] = [];
    const read = async (f: FileInfo, sink: (chunk: Uint8Array) => void | Promise<void>) => {
      for await (const c of r.api.stream(M.Read, { path: f.name ?? "" }, d, bounded)) if (c.data?.length) await sink(c.data);
    };
    const where = (f: FileInfo) => (f.relativeName ? `${base}/${f.relativeName}` : base);

    let bytes = 0;
    if (local === "-") {
      const out = async (b: Uint8Array) => { if (!process.stdout.write(b)) await new Promise((res) => process.stdout.once("drain", res)); };
      const mtime = (f: FileInfo) => new Date(Number(f.modified ?? 0));
      if (top.isDir) await out(Buffer.concat(tarEntry({ name: base, type: "dir", mode: (top.mode ?? 0o755) & 0o7777, mtime: mtime(top) })));
      // In the node's listing order (depth-first): a folder's contents follow it, so tar sets
      // the folder's time once they are in, not before.
      const dirs = new Set(p.dirs);
      for (const f of top.isDir ? entries.filter((e) => dirs.has(e) || p.files.includes(e)) : p.files) {
        if (dirs.has(f)) { await out(Buffer.concat(tarEntry({ name: where(f), type: "dir", mode: (f.mode ?? 0o755) & 0o7777, mtime: mtime(f) }))); continue; }
        // The header needs the length first, and /proc and /sys files list as size 0: read it whole.
        const chunks: Uint8Array[] = [];
        try { await read(f, (c) => void chunks.push(c)); } catch (e) { r.fail(e, `${d.label}:${f.name}`); failed.push(f.name ?? ""); continue; }
        const data = Buffer.concat(chunks);
        bytes += data.length;
        await out(Buffer.concat(tarEntry({ name: where(f), data, mode: (f.mode ?? 0o644) & 0o777, mtime: mtime(f) })));
      }
      await out(TAR_END);
    } else {
      // Into an existing folder: LOCAL/NAME; else LOCAL is the copy itself.
      const dest = isDir(local) ? join(local, base) : local;
      const target = (f: FileInfo) => (f.relativeName ? join(dest, f.relativeName) : dest);
      if (top.isDir) mkdirSync(dest, { recursive: true, mode: 0o755 });
      for (const dir of p.dirs) mkdirSync(target(dir), { recursive: true, mode: 0o755 });
      for (const f of p.files) {
        // O_NOFOLLOW: the copy never writes through a symlink at a name it writes (it makes none).
        const fd = openSync(target(f), constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
        try {
          await read(f, (c) => { for (let off = 0; off < c.length; ) off += writeSync(fd, c, off, c.length - off); bytes += c.length; });
          fchmodSync(fd, (f.mode ?? 0o644) & 0o777);
          const t = Number(f.modified ?? 0) / 1000;
          futimesSync(fd, t, t);
        } catch (e) {
          r.fail(e, `${d.label}:${f.name}`);
          failed.push(f.name ?? "");
          unlinkSync(target(f)); // no half file under the real name
        } finally {
          closeSync(fd);
        }
      }
      // A folder's time after its files went in (writing them changed it).
      for (const dir of [...p.dirs, ...(top.isDir ? [{ ...top, relativeName: "" }] : [])].reverse()) {
        const path = target(dir);
        const fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
        try {
          fchmodSync(fd, (dir.mode ?? 0o755) & 0o777);
          const t = Number(dir.modified ?? 0) / 1000;
          futimesSync(fd, t, t);
        } finally {
          closeSync(fd);
        }
      }
    }
    for (const s of p.skipped) console.error(`skipped ${s}`);
    console.error(`copied ${p.files.length - failed.length} file${p.files.length === 1 ? "" : "s"} (${formatBytes(bytes)})` +
      (top.isDir ? ` and ${p.dirs.length + 1} folder${p.dirs.length ? "s" : ""}` : "") + ` from ${d.label}:${src.path}` +
      (p.skipped.length ? `; skipped ${p.skipped.length}` : "") + (failed.length ? `; ${failed.length} could not be read` : ""));
    return failed.length ? EXIT.FAILED : EXIT.OK;
  });
}
