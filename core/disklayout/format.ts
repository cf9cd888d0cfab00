/**
 * Making the filesystems of a layout with Debian's mkfs binaries (mkfs.fat, mke2fs, mkfs.xfs),
 * which the image ships. A target is either a partition's own device (offset 0) or a whole disk
 * or image file with the partition's byte offset and size: mkfs.fat and mke2fs can write at an
 * offset inside a file, mkfs.xfs cannot (attach a loop device with losetup -o for that).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Filesystem, PlannedVolume } from "./plan.ts";

/**
 * Where the image keeps the programs a node needs to install itself (mke2fs, mkfs.fat, mtools),
 * their shared libraries and the prebuilt GRUB images: off every PATH a service sees, so only
 * the installer runs them.
 */
export const NODE_TOOLS = "/usr/lib/bunker";

/** The program and environment that run `cmd`: the image's copy under `tools`/bin when it has one, else PATH. */
export function toolCommand(cmd: string[], tools = NODE_TOOLS): { cmd: string[]; env: Record<string, string> } {
  const env: Record<string, string> = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C" };
  const own = join(tools, "bin", cmd[0] ?? "");
  if (cmd[0] && !cmd[0].includes("/") && existsSync(own)) return { cmd: [own, ...cmd.slice(1)], env: { ...env, LD_LIBRARY_PATH: join(tools, "lib"), GCONV_PATH: join(tools, "gconv") } };
  return { cmd, env };
}

export interface FormatTarget {
  /** A block device or file. */
  path: string;
  /** Byte offset of the partition in `path` (0 when `path` is the partition itself). */
  offset: number;
  /** Bytes of the partition. */
  size: number;
  sectorSize: number;
}

/** The mkfs command line for `fs` on `target`, labelled `label`. Pure: runs nothing. */
export function mkfsCommand(fs: Filesystem, label: string, t: FormatTarget): string[] {
  const kib = Math.floor(t.size / 1024);
  switch (fs) {
    case "vfat":
      // FAT32 with one sector per cluster so 100 MiB still has enough clusters for FAT32, as
      // UEFI firmware expects on an ESP. --offset counts in the -S sector size. -I: writing
      // inside a whole-disk device at an offset is intended (mkfs.fat refuses some otherwise).
      return ["mkfs.fat", "-I", "-F", "32", "-s", "1", "-S", String(t.sectorSize), "-n", label.toUpperCase().slice(0, 11),
        ...(t.offset ? ["--offset", String(t.offset / t.sectorSize)] : []), t.path, String(kib)];
    case "ext4":
      // 4 KiB blocks whatever the size (mke2fs picks 1 KiB for small ones, which 4K-sector disks cannot take).
      return ["mke2fs", "-t", "ext4", "-F", "-q", "-b", "4096", "-L", label.slice(0, 16),
        ...(t.offset ? ["-E", `offset=${t.offset}`] : []), t.path, `${kib}k`];
    case "xfs":
      if (t.offset) throw new Error(`mkfs.xfs cannot write at an offset (${t.offset}) inside ${t.path}: use the partition's device or a loop device`);
      return ["mkfs.xfs", "-f", "-q", "-L", label.slice(0, 12), "-s", `size=${t.sectorSize}`, "-d", `size=${t.size}`, t.path];
    case "none":
      throw new Error(`volume ${label} has no filesystem to make`);
  }
}

export interface ToolResult { command: string[]; code: number; output: string }

/** Runs `cmd` (bounded in time), returning its output; throws naming the command when it fails. */
export function runTool(cmd: string[], timeoutMs = 300_000): ToolResult {
  const t = toolCommand(cmd);
  const r = Bun.spawnSync(t.cmd, { env: t.env, timeout: timeoutMs });
  const output = (r.stdout.toString() + r.stderr.toString()).trim();
  const code = r.exitCode ?? -1;
  if (code !== 0) throw new Error(`${cmd.join(" ")} failed (exit ${r.signalCode ?? code})${output ? `: ${output}` : ""}`);
  return { command: cmd, code, output };
}

/** Makes the filesystem of `v` on `target`. Volumes without a filesystem are left as they are. */
export function formatVolume(v: PlannedVolume, target: FormatTarget): ToolResult | null {
  if (v.filesystem === "none") return null;
  return runTool(mkfsCommand(v.filesystem, v.label, target));
}
