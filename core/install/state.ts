/**
 * STATE from the outside (an installer or a test, not the running node, which mounts it at
 * /system/state): storing the machine config at install, reading it back, and the reset wipe.
 * ext4 is made or read at the partition's byte offset inside the disk, nothing is mounted:
 * mke2fs -d builds the filesystem from a staging folder; debugfs reads (libext2fs takes
 * `PATH?offset=N`).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DiskDevice } from "../gpt/device.ts";
import type { GptTable } from "../gpt/table.ts";
import { runTool } from "../disklayout/format.ts";
import { Label } from "../disklayout/plan.ts";
import { extent, findVolume } from "../disklayout/volumes.ts";

/** The config's name in STATE; init reads /system/state/config.yaml. */
export const STATE_CONFIG = "config.yaml";

/** Makes STATE anew holding only config.yaml (mode 0600): for a fresh install, never a live node. */
export function writeStateConfig(dev: DiskDevice, table: GptTable, yaml: string, scratch = tmpdir()): void {
  const { offset, size } = extent(table, findVolume(table, Label.STATE));
  const staging = mkdtempSync(join(scratch, "bunker-state-"));
  try {
    writeFileSync(join(staging, STATE_CONFIG), yaml, { mode: 0o600 });
    runTool(["mke2fs", "-t", "ext4", "-F", "-q", "-b", "4096", "-L", Label.STATE, "-d", staging, "-E", `offset=${offset}`, dev.path, `${Math.floor(size / 1024)}k`]);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  dev.sync();
}

/** A file of the ext4 filesystem of volume `label`, or null when it has none. */
export function readExt4File(dev: DiskDevice, table: GptTable, label: typeof Label.STATE | typeof Label.EPHEMERAL, path: string): string | null {
  const { offset } = extent(table, findVolume(table, label));
  const r = Bun.spawnSync(["debugfs", "-R", `cat ${path}`, `${dev.path}?offset=${offset}`], { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C" }, timeout: 30_000 });
  const err = r.stderr.toString();
  // debugfs exits 0 on a missing file or a bad filesystem and says which only on stderr: its
  // words are all there is to read.
  if (r.exitCode !== 0 || /not found|Bad magic|Can't read|No such file/i.test(err)) {
    if (/File not found by ext2_lookup/.test(err)) return null;
    throw new Error(`debugfs on ${label} of ${dev.path}: ${err.trim() || `exit ${r.exitCode}`}`);
  }
  return r.stdout.toString();
}
