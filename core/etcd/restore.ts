/**
 * A new single-member data folder from an etcd snapshot, made by etcd's own tool (etcd 3.4:
 * `etcdctl snapshot restore`; etcdutl comes with 3.5): `snapshot status` reads it whole first,
 * and restore checks the hash etcd appends to every snapshot it streams. The folder is made
 * beside the target and renamed into place, so a failed restore leaves no half data folder.
 * Errors are RestoreError, in etcdctl's words, with the snapshot's path taken out (an API caller
 * does not need the node's folders).
 */
import { createHash } from "node:crypto";
import { createReadStream, existsSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { ETCD_EXTENSION } from "../image/layout.ts";

export const ETCDCTL_BINARIES = [`/${ETCD_EXTENSION.mountPoint}/bin/etcdctl`, "/usr/bin/etcdctl", "/usr/local/bin/etcdctl"];

export class RestoreError extends Error {
  constructor(message: string) { super(message); this.name = "RestoreError"; }
}

export function etcdctlBinary(candidates = ETCDCTL_BINARIES): string | undefined {
  return candidates.find((p) => existsSync(p));
}

/** The SHA-256 (hex) of a file, read as a stream. */
export async function fileSha256(file: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest("hex");
}

/**
 * How etcdctl is started: Bun.spawn unless the caller says otherwise (init passes its own, so
 * that its reaper leaves the child's exit status to Bun).
 */
export type Spawn = (argv: string[], opts: { stdin: "ignore"; stdout: "pipe"; stderr: "pipe"; env: Record<string, string | undefined> }) => Bun.Subprocess<"ignore", "pipe", "pipe">;

async function run(argv: string[], hide: string[], timeoutMs: number, spawn: Spawn = Bun.spawn): Promise<string> {
  let p: Bun.Subprocess<"ignore", "pipe", "pipe">;
  try {
    p = spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, ETCDCTL_API: "3" } });
  } catch (e) {
    throw new RestoreError(`etcdctl ${argv[1]} ${argv[2]}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
  try {
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    if (code === 0) return out;
    let why = (err.trim().split("\n").filter((l) => l.trim()).at(-1) ?? "").trim() || (p.signalCode ? `killed by ${p.signalCode}` : `exit ${code}`);
    for (const h of hide) why = why.split(h).join("<snapshot>");
    throw new RestoreError(`etcdctl ${argv[1]} ${argv[2]} failed: ${why}`);
  } finally {
    clearTimeout(timer);
  }
}

export interface SnapshotInfo { hash: number; revision: number; totalKey: number; totalSize: number }

/** `etcdctl snapshot status`: refuses a file that is no whole etcd database. */
export async function snapshotStatus(etcdctl: string, file: string, timeoutMs = 60_000, spawn?: Spawn): Promise<SnapshotInfo> {
  const out = await run([etcdctl, "snapshot", "status", file, "-w", "json"], [file], timeoutMs, spawn);
  try { return JSON.parse(out) as SnapshotInfo; } catch { throw new RestoreError(`etcdctl snapshot status answered no JSON: ${out.slice(0, 200)}`); }
}

/**
 * Restores `file` into `dataDir` (which must not exist yet) as the data of a new cluster of one
 * member, `name` at `peerURL`; returns what the snapshot held.
 */
export async function restoreSnapshot(etcdctl: string, file: string, o: { dataDir: string; name: string; peerURL: string; token: string; timeoutMs?: number; spawn?: Spawn }): Promise<SnapshotInfo> {
  if (existsSync(o.dataDir)) throw new RestoreError("the data folder exists already: a restore starts from none");
  const info = await snapshotStatus(etcdctl, file, o.timeoutMs, o.spawn);
  const work = join(dirname(o.dataDir), `.${o.name}.restore-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  try {
    await run([etcdctl, "snapshot", "restore", file, "--data-dir", work, "--name", o.name,
      "--initial-cluster", `${o.name}=${o.peerURL}`, "--initial-advertise-peer-urls", o.peerURL, "--initial-cluster-token", o.token], [file, work], o.timeoutMs ?? 300_000, o.spawn);
    renameSync(work, o.dataDir);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return info;
}
