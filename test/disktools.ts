/**
 * Test helpers that run the partitioning tools nobody here wrote (sgdisk, sfdisk, blkid, parted,
 * losetup) on image files and return what they PRINT: several of them exit 0 on a corrupt table,
 * so tests assert on the text.
 */
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface ToolRun {
  code: number;
  out: string;
  err: string;
  /** stdout and stderr together, for assertions on everything the tool said. */
  all: string;
}

export function tool(cmd: string[], timeoutMs = 30_000): ToolRun {
  const r = Bun.spawnSync(cmd, { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C.UTF-8" }, timeout: timeoutMs });
  const out = r.stdout.toString(), err = r.stderr.toString();
  return { code: r.exitCode ?? -1, out, err, all: out + err };
}

export function have(name: string): boolean {
  return Bun.which(name, { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" }) !== null;
}

/** A temp dir removed by the returned cleanup. */
export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A sparse image file of `bytes` bytes. */
export function sparseImage(path: string, bytes: number): string {
  writeFileSync(path, "");
  truncateSync(path, bytes);
  return path;
}

export interface SfdiskPartition { node: string; start: number; size: number; type: string; uuid: string; name?: string; attrs?: string }
export interface SfdiskTable { label: string; id: string; firstlba: number; lastlba: number; sectorsize?: number; partitions?: SfdiskPartition[] }

export function sfdiskJson(path: string): SfdiskTable {
  const r = tool(["sfdisk", "--json", path]);
  if (r.code !== 0) throw new Error(`sfdisk --json ${path} failed: ${r.all}`);
  return (JSON.parse(r.out) as { partitiontable: SfdiskTable }).partitiontable;
}

/** Attaches `image` to a loop device (optionally with another sector size); root only. */
export function loopAttach(image: string, opts: { sectorSize?: number; offset?: number; sizelimit?: number } = {}): { dev: string; detach: () => void } {
  const args = ["losetup", "-f", "--show"];
  if (opts.sectorSize) args.push("--sector-size", String(opts.sectorSize));
  if (opts.offset !== undefined) args.push("-o", String(opts.offset));
  if (opts.sizelimit !== undefined) args.push("--sizelimit", String(opts.sizelimit));
  const r = tool([...args, image]);
  if (r.code !== 0) throw new Error(`losetup failed: ${r.all}`);
  const dev = r.out.trim();
  return { dev, detach: () => void tool(["losetup", "-d", dev]) };
}

export const isRoot = process.getuid?.() === 0;

/** Whether loop devices can be attached here (root and a free /dev/loop*). */
export function canLoop(): boolean {
  if (!isRoot || !have("losetup")) return false;
  return tool(["losetup", "-f"]).code === 0;
}
