/**
 * Whether a write is durable, seen from the system calls it makes: strace records a script's
 * fsync and rename calls with the path behind each descriptor (-y), so a test can tell that a
 * directory was fsynced after a rename into it (without that the rename can be lost on a power
 * cut; bench/crash.ts shows it on a real disk).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const straceSkipReason: string | null = Bun.which("strace") ? null : "needs strace (apt-get install strace)";

export interface SyncCall {
  call: "fsync" | "fdatasync" | "rename";
  /** fsync: the file or directory synced; rename: the new name. */
  path: string;
}

/**
 * Runs `body` (TypeScript after `imports`, with `dir` bound to a fresh directory's path) under
 * strace: its fsyncs and renames in order, and whether each rename into `dir` was followed by an
 * fsync of `dir` itself.
 */
export function syncCalls(imports: string, body: string): { calls: SyncCall[]; renamesDurable: boolean } {
  const work = mkdtempSync(join(tmpdir(), "bunker-durable-"));
  try {
    const script = join(work, "script.ts");
    writeFileSync(script, `${imports}\nconst dir = ${JSON.stringify(join(work, "dir"))};\n${body}\n`);
    const bun = resolve(import.meta.dir, "../../node_modules/.bin/bun");
    const r = Bun.spawnSync(["strace", "-f", "-y", "-qq", "-e", "trace=fsync,fdatasync,rename,renameat,renameat2", bun, script], { stderr: "pipe", stdout: "pipe" });
    const err = r.stderr.toString();
    if (r.exitCode !== 0) throw new Error(`the script failed (exit ${r.exitCode}): ${err.slice(-2000)}`);
    const calls: SyncCall[] = [];
    for (const line of err.split("\n")) {
      const sync = /\b(fsync|fdatasync)\(\d+<([^>]*)>\)\s+= 0/.exec(line);
      if (sync) calls.push({ call: sync[1] as "fsync" | "fdatasync", path: sync[2]! });
      const ren = /\brename(?:at2?)?\(.*"([^"]*)"(?:, \w+)?\)\s+= 0/.exec(line);
      if (ren) calls.push({ call: "rename", path: resolve(work, ren[1]!) });
    }
    return { calls, renamesDurable: renamesDurable(calls, join(work, "dir")) };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function renamesDurable(calls: SyncCall[], dir: string): boolean {
  let pending = false;
  for (const c of calls) {
    if (c.call === "rename" && c.path.startsWith(dir + "/")) pending = true;
    if (c.call !== "rename" && c.path === dir) pending = false;
  }
  return calls.some((c) => c.call === "rename") && !pending;
}
