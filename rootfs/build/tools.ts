/** Utilities of the image build: running external tools with context, and the build cache. */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";

/** Runs a command; throws with the command, exit code and the end of its output on failure. */
export async function run(cmd: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<string> {
  const p = Bun.spawn(cmd, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) {
    const tail = (out + err).trim().split("\n").slice(-15).join("\n");
    throw new Error(`${cmd[0]} exited with ${code}: ${cmd.join(" ")}\n${tail}`);
  }
  return out;
}

/** ${XDG_CACHE_HOME:-~/.cache}/bunker/<kind> */
export function cacheDir(kind: string): string {
  const d = join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "bunker", kind);
  mkdirSync(d, { recursive: true });
  return d;
}

export function sha256(...parts: (string | Uint8Array)[]): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(p).update("\0");
  return h.digest("hex");
}

/**
 * Returns `cache/<key>/<name>` (set BUNKER_NO_BUILD_CACHE=1 to bypass), producing it with `make(tmpPath)` when absent. The result appears
 * by rename, so an interrupted build never leaves a half-written cache entry.
 */
export async function cached(kind: string, key: string, name: string, make: (tmp: string) => Promise<void>): Promise<string> {
  if (process.env.BUNKER_NO_BUILD_CACHE === "1") {
    // Rebuild everything (the reproducibility test uses this to compare real outputs).
    const d = mkdtempSync(join(tmpdir(), `bunker-${kind}-`));
    await make(join(d, name));
    return join(d, name);
  }
  const dir = join(cacheDir(kind), key.slice(0, 24));
  const final = join(dir, name);
  if (existsSync(final)) return final;
  const tmpDir = `${dir}.tmp-${process.pid}`;
  rmSync(tmpDir, { recursive: true, force: true });
  mkdirSync(tmpDir, { recursive: true });
  await make(join(tmpDir, name));
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmpDir, dir);
  return final;
}
