/**
 * The disk work of a running node (install, writing an upgrade's slot, emptying volumes) as one
 * JSON job, so that init can hand it to a child process (`bunker partition job`) instead of
 * doing it itself: mke2fs, mkfs.fat and mtools run with spawnSync and the slot files are copied
 * and fsynced synchronously, which inside PID 1 would stop its event loop (no reaping, no API
 * answers, no log draining) for as long as the disk takes.
 *
 * The child is given paths and the public image key only: it checks the image folder against
 * its signed manifest again itself, so what it writes is what was verified, whatever happened
 * to the folder between init's check and the child's start.
 */
import type { KeyObject } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { IMAGE_FILES, MANIFEST_FILES } from "../image/layout.ts";
import { openManifest } from "../image/manifest.ts";
import { IsoImage } from "./iso9660.ts";
import { openDisk } from "../gpt/device.ts";
import { parsePublicKey } from "../image/manifest.ts";
import { prebuiltBootloader } from "./bootloader.ts";
import type { Slot } from "./grub.ts";
import { verifyImage } from "./image.ts";
import { install } from "./install.ts";
import { RESETTABLE, type ResettableLabel } from "./reset.ts";
import { resetRunning, upgradeRunning } from "./running.ts";

export type DiskJob =
  | {
    kind: "install"; disk: string; wipe: boolean;
    /** An image folder and the public key (PEM or raw base64) its manifest must be signed with. */
    image: string; key: string;
    /** A boot medium (ISO 9660: a device or a file) whose /boot files are copied into `image` first. */
    medium?: string;
    /** The machine config for STATE (YAML text); absent: none. */
    config?: string;
    /** Prebuilt GRUB images (the image's NODE_TOOLS/grub); absent or missing: grub-mkimage. */
    grub?: string;
    scratch: string;
  }
  | { kind: "upgrade"; disk: string; booted: Slot; image: string; key: string; work: string }
  | { kind: "reset"; disk: string; volumes: ResettableLabel[]; mounted: Partial<Record<ResettableLabel, string>>; work: string };

export type JobResult =
  | { kind: "install"; slot: "A"; wiped: string[]; partitions: number; version: string }
  | { kind: "upgrade"; slot: Slot; version: string }
  | { kind: "reset"; done: string[] };

/** A job the child was given that it cannot run; names the field and what is wrong. */
export class JobError extends Error {
  constructor(message: string) {
    super(`disk job: ${message}`);
    this.name = "JobError";
  }
}

const str = (o: Record<string, unknown>, k: string): string => {
  const v = o[k];
  if (typeof v !== "string" || v === "") throw new JobError(`"${k}" must be a non-empty string, got ${JSON.stringify(v)}`);
  return v;
};

/** Parses and checks a job's JSON text (what the child reads on stdin). */
export function parseJob(text: string): DiskJob {
  let o: unknown;
  try { o = JSON.parse(text); } catch (e) { throw new JobError(`not JSON: ${(e as Error).message}`); }
  if (typeof o !== "object" || o === null || Array.isArray(o)) throw new JobError("expected a JSON object");
  const j = o as Record<string, unknown>;
  switch (j.kind) {
    case "install":
      if (typeof j.wipe !== "boolean") throw new JobError(`"wipe" must be true or false`);
      if (j.config !== undefined && typeof j.config !== "string") throw new JobError(`"config" must be a string`);
      if (j.grub !== undefined) str(j, "grub");
      if (j.medium !== undefined) str(j, "medium");
      return { kind: "install", disk: str(j, "disk"), wipe: j.wipe, image: str(j, "image"), key: str(j, "key"), config: j.config as string | undefined, grub: j.grub as string | undefined, scratch: str(j, "scratch"), ...(j.medium !== undefined ? { medium: j.medium as string } : {}) };
    case "upgrade": {
      const booted = str(j, "booted");
      if (booted !== "A" && booted !== "B") throw new JobError(`"booted" must be A or B, got ${JSON.stringify(booted)}`);
      return { kind: "upgrade", disk: str(j, "disk"), booted, image: str(j, "image"), key: str(j, "key"), work: str(j, "work") };
    }
    case "reset": {
      const vols = j.volumes;
      if (!Array.isArray(vols) || vols.some((v) => !(RESETTABLE as readonly unknown[]).includes(v))) throw new JobError(`"volumes" must be a list of ${RESETTABLE.join(", ")}`);
      const mounted = (j.mounted ?? {}) as Record<string, unknown>;
      if (typeof mounted !== "object" || Object.entries(mounted).some(([k, v]) => !(RESETTABLE as readonly string[]).includes(k) || typeof v !== "string")) throw new JobError(`"mounted" must map ${RESETTABLE.join(", ")} to a folder`);
      return { kind: "reset", disk: str(j, "disk"), volumes: vols as ResettableLabel[], mounted: mounted as Partial<Record<ResettableLabel, string>>, work: str(j, "work") };
    }
    default:
      throw new JobError(`"kind" must be install, upgrade or reset, got ${JSON.stringify(j.kind)}`);
  }
}

/** Where a boot medium (the ISO) keeps its boot files and their signed manifest (rootfs/build/bootmanifest.ts). */
export const MEDIUM_BOOT_DIR = "/boot";

/**
 * Copies the boot files of the ISO 9660 medium `medium` into `dir`: its signed manifest first,
 * whose signature is checked against `key` before anything else is read, then each file the
 * manifest names, no longer than its signed size. The caller checks the digests (verifyImage).
 */
export function copyBootFiles(medium: string, dir: string, key: KeyObject, progress: (line: string) => void): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const iso = new IsoImage(medium);
  try {
    for (const f of MANIFEST_FILES) iso.copyOut(`${MEDIUM_BOOT_DIR}/${f}`, join(dir, f));
    let manifest;
    try {
      manifest = openManifest(readFileSync(join(dir, IMAGE_FILES.manifest)), readFileSync(join(dir, IMAGE_FILES.signature), "utf8"), key);
    } catch (e) {
      throw new Error(`boot medium ${medium}: ${(e as Error).message}`);
    }
    const listed = new Map(iso.list(MEDIUM_BOOT_DIR).map((e) => [e.name, e]));
    for (const a of manifest.artifacts) {
      if (a.name.includes("/") || a.name.startsWith(".")) throw new Error(`boot medium ${medium}: the manifest names ${JSON.stringify(a.name)}, not a file of ${MEDIUM_BOOT_DIR}`);
      const e = listed.get(a.name);
      if (!e || e.dir) throw new Error(`boot medium ${medium}: ${MEDIUM_BOOT_DIR}/${a.name}, named in its signed manifest, is missing`);
      if (e.size !== a.size) throw new Error(`boot medium ${medium}: ${a.name}: size ${e.size}, the signed manifest says ${a.size}`);
      progress(`copying ${a.name} (${(a.size / 1e6).toFixed(1)} MB) from the boot medium`);
      iso.copyOut(`${MEDIUM_BOOT_DIR}/${a.name}`, join(dir, a.name));
    }
  } finally {
    iso.close();
  }
}

/** Runs `job` (synchronously: this is the child's whole work), reporting each step to `progress`. */
export function runJob(job: DiskJob, progress: (line: string) => void): JobResult {
  switch (job.kind) {
    case "install": {
      if (job.medium !== undefined) copyBootFiles(job.medium, job.image, parsePublicKey(job.key), progress);
      const image = verifyImage(job.image, parsePublicKey(job.key), { slotFilesOnly: true });
      progress(`image ${image.manifest.build.version ?? "?"}: signature and slot files verified`);
      const grub = job.grub !== undefined && existsSync(job.grub) ? prebuiltBootloader(job.grub) ?? undefined : undefined;
      const dev = openDisk(job.disk, { write: true });
      try {
        const r = install(dev, image, { wipe: job.wipe, config: job.config, bootloader: grub, progress, scratch: job.scratch });
        return { kind: "install", ...r, version: image.manifest.build.version ?? "unknown" };
      } finally {
        dev.close();
      }
    }
    case "upgrade": {
      const image = verifyImage(job.image, parsePublicKey(job.key), { slotFilesOnly: true });
      const slot = upgradeRunning(job.disk, job.booted, image, job.work, progress);
      return { kind: "upgrade", slot, version: image.manifest.build.version ?? "unknown" };
    }
    case "reset":
      return { kind: "reset", done: resetRunning(job.disk, job.volumes, job.mounted, job.work, progress) };
  }
}
