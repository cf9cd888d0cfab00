/**
 * The install disk's volumes as init uses them: STATE mounted as the state dir at boot (so the
 * saved config survives a reboot), EPHEMERAL as /var (etcd's data), and reset's wipe of STATE
 * and EPHEMERAL.
 */
import { chmodSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { Label, type VolumeLabel } from "../../../core/disklayout/plan.ts";
import { RESETTABLE, type ResettableLabel } from "../../../core/install/reset.ts";
import { mountVolume } from "../../../core/install/volume.ts";
import { isMountPoint, MS, mountFs } from "../../../core/sys/mount.ts";
import { runDiskJob } from "../diskjob.ts";
import type { EventHistory } from "../events.ts";
import { errText, log } from "../log.ts";
import type { MachineOptions } from "./options.ts";
import { progress, scratch } from "./scratch.ts";

type VolumeOptions = Pick<MachineOptions, "install" | "stateOnDisk" | "stateDir" | "etcd" | "workDir">;

/**
 * Mounts `label` of the install disk on `dir`; false, logged and in the events with what it means
 * (`lost`), when it cannot be: the node boots on without it.
 */
function mountDiskVolume(opts: VolumeOptions, events: EventHistory, label: VolumeLabel, dir: string, flags: number, what: string, lost: string): boolean {
  if (!opts.install) return false;
  try {
    const v = mountVolume(opts.install.disk, label, dir, { flags });
    log.info(`${what}: ${v.device} (${v.fstype}, ${label} of ${opts.install.disk}) on ${dir}`);
    return true;
  } catch (err) {
    const msg = `${what}: cannot mount ${label} of ${opts.install.disk} (${errText(err)}); ${lost}`;
    log.error(msg);
    events.add("state", msg);
    return false;
  }
}

/**
 * metal, booted from an installed disk: the state dir becomes the disk's STATE volume; true
 * when it was mounted. When it cannot be, the node boots on with the tmpfs (and says so): a
 * node that cannot keep its config is better than one that does not boot.
 */
export function mountState(opts: VolumeOptions, events: EventHistory): boolean {
  if (!opts.stateOnDisk) return false;
  const mounted = mountDiskVolume(opts, events, Label.STATE, opts.stateDir, MS.NOSUID | MS.NODEV | MS.NOEXEC, "state", "the config is kept in memory only and will not survive a reboot");
  if (mounted) chmodSync(opts.stateDir, 0o700);
  return mounted;
}

/** Where EPHEMERAL is mounted on a node: what services keep between restarts (etcd's data). */
export const VAR_DIR = "/var";

/**
 * metal: /var, where etcd keeps its data. Booted from an installed disk it is the disk's
 * EPHEMERAL volume; without one (a node running from RAM: ISO, iPXE, -kernel) it is a tmpfs, so
 * the data lives as long as the machine runs, as everything else of such a node does. Returns
 * true when EPHEMERAL is mounted there.
 */
export function mountVar(opts: VolumeOptions, events: EventHistory, dir = VAR_DIR): boolean {
  if (isMountPoint(dir)) return false;
  if (mountDiskVolume(opts, events, Label.EPHEMERAL, dir, MS.NOSUID | MS.NODEV, "var", `${dir} is a tmpfs, and etcd's data will not survive a reboot`)) return true;
  mkdirSync(dir, { recursive: true });
  mountFs("tmpfs", dir, "tmpfs", MS.NOSUID | MS.NODEV, "mode=755");
  if (!opts.install) log.info(`var: no install disk: ${dir} is a tmpfs (what is kept there lasts until power-off)`);
  return false;
}

export interface WipeRequest {
  /** The volumes asked for; none: STATE and EPHEMERAL. */
  requested: ResettableLabel[] | undefined;
  /** Where the saved config is, wherever the state dir lives. */
  savedConfigPath: string;
  /** STATE is mounted as the state dir (the disk job empties it in place). */
  stateMounted: boolean;
  /** EPHEMERAL is mounted as /var (emptied in place too). */
  varMounted?: boolean;
  signal: AbortSignal;
}

/**
 * Reset's wipe: the install disk's volumes, and the saved config wherever it is. The emptying
 * runs in a child (diskjob.ts): a volume of many files takes long.
 */
export async function wipeVolumes(opts: VolumeOptions, events: EventHistory, w: WipeRequest): Promise<void> {
  const volumes = w.requested?.length ? w.requested : [...RESETTABLE];
  const say = progress(events, "reset");
  if (opts.install) {
    const work = scratch(opts.workDir, "reset");
    try {
      await runDiskJob({ kind: "reset", disk: opts.install.disk, volumes, mounted: { ...(w.stateMounted ? { [Label.STATE]: opts.stateDir } : {}), ...(w.varMounted ? { [Label.EPHEMERAL]: VAR_DIR } : {}) }, work }, { progress: say, signal: w.signal });
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  } else if (volumes.includes(Label.EPHEMERAL)) {
    // Without a disk etcd's data is the one thing of EPHEMERAL's that outlives init (container
    // mode keeps it under the state dir): a reset node must come back without it.
    if (opts.etcd && existsSync(opts.etcd.dataDir)) {
      rmSync(opts.etcd.dataDir, { recursive: true, force: true });
      say("EPHEMERAL: no install disk; etcd's data wiped");
    } else say("EPHEMERAL: no install disk, nothing to wipe");
  }
  if (volumes.includes(Label.STATE)) {
    rmSync(w.savedConfigPath, { force: true });
    say("STATE: the saved config is gone; the next boot is in maintenance mode");
  }
}
