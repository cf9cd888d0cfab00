/**
 * The install sequence's work: a node booted from an ISO or the network (no bunker.slot= on its
 * command line) whose config names an install disk (machine.install.disk or diskSelector)
 * installs itself there. Everything that can refuse comes before the first write: the disk
 * choice, the disk being blank (or wipe: true), the image URL, the image's signature against
 * the running image's key. Then core/install's install() partitions, formats, writes slot A,
 * GRUB for BIOS and UEFI and the config into STATE, in a child process (diskjob.ts) so that PID
 * 1 goes on serving; init reboots into the installed system.
 */
import type { KeyObject } from "node:crypto";
import { existsSync, realpathSync, rmSync } from "node:fs";
import { join } from "node:path";
import { existingContent } from "../../core/disklayout/apply.ts";
import { NODE_TOOLS } from "../../core/disklayout/format.ts";
import { discoverDisks } from "../../core/disks/disk.ts";
import { selectInstallDisk, type DiskSelector } from "../../core/disks/selector.ts";
import { openDisk } from "../../core/gpt/device.ts";
import { downloadImage } from "../../core/install/download.ts";
import type { InstallResult } from "../../core/install/install.ts";
import type { CheckedConfig } from "./config.ts";
import { runDiskJob } from "./diskjob.ts";

/** machine.install as the install takes it: the selector from the config's parsed view (its size in bytes). */
export interface InstallSection {
  disk?: string;
  diskSelector?: DiskSelector;
  wipe?: boolean;
  image?: string;
}

/** The config's install section when it asks for an install (a disk or a selector), else null. */
export function installSection(c: CheckedConfig): InstallSection | null {
  const i = c.config.machine.install;
  if (!i || (i.disk === undefined && i.diskSelector === undefined)) return null;
  const s: InstallSection = { wipe: i.wipe, image: i.image };
  if (i.disk !== undefined) s.disk = i.disk;
  if (c.parsed.diskSelector) s.diskSelector = c.parsed.diskSelector;
  return s;
}

/**
 * Why a config naming an install disk but no image installs nothing: no image URL, and no boot
 * medium carrying the running image's signed boot files (bootmedium.ts). Not an error: a node
 * may well run from the network (the default `gen config` names a disk and no image), so init
 * only says so.
 */
export const NO_IMAGE_URL = "machine.install.image is empty and this node was not booted from Bunker's ISO (no CD or disk holds an ISO 9660 volume BUNKER with its signed boot files): a -kernel or iPXE boot leaves nothing to install from; set machine.install.image to the http(s) URL of a built image folder (vmlinuz, initramfs.zst, manifest.json, manifest.sig), as for an upgrade";

/** The disk to install to: the config's path (or `override`, a disk image file in container mode), or the selector's first match. */
export function chooseDisk(s: InstallSection, override?: string, sysfs = "/sys"): string {
  if (override !== undefined) return override;
  if (s.disk !== undefined) {
    if (!existsSync(s.disk)) throw new Error(`install disk ${s.disk} (machine.install.disk) does not exist on this machine`);
    return s.disk;
  }
  return selectInstallDisk(discoverDisks(sysfs), s.diskSelector!).devPath;
}

/** Refuses a disk that holds anything unless wipe is set; says what it holds. Writes nothing. */
export function checkBlank(disk: string, wipe: boolean): void {
  const dev = openDisk(disk);
  try {
    const found = existingContent(dev);
    if (found.length && !wipe) throw new Error(`install disk ${disk} is not blank (it holds ${found.join(", ")}); refusing to install without machine.install.wipe: true`);
  } finally {
    dev.close();
  }
}

export interface NodeInstallOptions {
  section: InstallSection;
  /** The YAML text stored in STATE (the config the node was booted with). */
  configText: string;
  key: KeyObject | undefined;
  /** Scratch space for the download (a tmpfs on a node). */
  work: string;
  diskOverride?: string;
  signal?: AbortSignal;
  progress: (line: string) => void;
  /** Called with the pid of the child that does the disk work. */
  started?: (pid: number) => void;
  /** The boot medium (bootmedium.ts: a device, or an ISO file in container mode), used when machine.install.image is empty. */
  medium?: string | null;
}

/** Runs the install; throws (before writing anything when it can) naming what is wrong. */
export async function installNode(o: NodeInstallOptions): Promise<InstallResult & { disk: string; version: string }> {
  const say = o.progress;
  const disk = chooseDisk(o.section, o.diskOverride);
  const wipe = o.section.wipe === true;
  checkBlank(disk, wipe);
  if (!o.section.image && !o.medium) throw new Error(NO_IMAGE_URL);
  if (!o.section.image && realpathSync(o.medium!) === realpathSync(disk)) throw new Error(`install disk ${disk} is the boot medium itself: name another disk, or set machine.install.image to an image URL`);
  if (!o.key) throw new Error("this node has no trusted image key (etc/bunker/image.pub of its initramfs), so no image can be checked");
  const dir = join(o.work, "image");
  try {
    if (o.section.image) {
      say(`installing to ${disk}: fetching ${o.section.image}`);
      await downloadImage(o.section.image, dir, o.key, { signal: o.signal, progress: say });
    } else {
      // The running image, from the medium it booted from: the child copies its boot files out
      // (no mount: read as ISO 9660) and checks them against their signed manifest.
      say(`installing to ${disk}: the running image, from the boot medium ${o.medium} (its signed manifest of boot files)`);
    }
    // Partitioning, mkfs, GRUB and the slot run in a child (diskjob.ts): PID 1 keeps serving.
    const r = await runDiskJob({
      kind: "install", disk, wipe, image: dir, key: o.key.export({ type: "spki", format: "pem" }).toString(), ...(o.section.image ? {} : { medium: o.medium! }),
      config: o.configText, grub: join(NODE_TOOLS, "grub"), scratch: o.work,
    }, { progress: say, signal: o.signal, started: o.started });
    if (r.kind !== "install") throw new Error(`install: the disk job answered a ${r.kind} result`);
    return { slot: r.slot, wiped: r.wiped, partitions: r.partitions, disk, version: r.version };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

