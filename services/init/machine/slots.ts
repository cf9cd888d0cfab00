/**
 * The A/B slots of an installed node: confirming the slot this boot runs from (and retiring one
 * whose trial failed), the anti-rollback floor that follows a confirmed boot, the upgrade that
 * writes the other slot, and the rollback that boots it again.
 */
import { rmSync } from "node:fs";
import type { KeyObject } from "node:crypto";
import { join } from "node:path";
import { downloadImage, ImageError } from "../../../core/install/download.ts";
import { otherSlot, type Slot } from "../../../core/install/grub.ts";
import { markSlotFailed, rollbackRunning } from "../../../core/install/running.ts";
import { belowFloor, floorOf, raiseFloorOf, slotSecurityVersion } from "../../../core/install/antirollback.ts";
import { securityVersionOf } from "../../../core/image/manifest.ts";
import { confirmSlot } from "../bootslot.ts";
import { runDiskJob } from "../diskjob.ts";
import type { EventHistory } from "../events.ts";
import { errText, log } from "../log.ts";
import { installedDisk, type MachineOptions } from "./options.ts";
import { progress, scratch } from "./scratch.ts";

export interface SlotDeps {
  opts: Pick<MachineOptions, "install" | "imageKey" | "imageSecurityVersion" | "workDir">;
  events: EventHistory;
  /** Publishes what this boot's confirmation came to (the BootStatus resource). */
  publishBootStatus(confirmation: string): void;
}

export class Slots {
  constructor(private readonly d: SlotDeps) {}

  /** Confirms the boot slot on the disk (never fails the boot: a node that cannot write its disk still serves). */
  confirm(): void {
    const { disk, slot } = installedDisk(this.d.opts);
    let said: string;
    // The floor follows only a slot that is now the one that boots (not a fall-back, not a failed confirmation).
    let confirmed = false;
    try {
      const r = confirmSlot(disk, slot);
      said = r.message;
      if (r.outcome.kind === "fell-back") said += `; ${this.retire(disk, r.outcome.failed)}`;
      else confirmed = true;
      log.info(`boot slot: ${said}`);
    } catch (err) { said = `could not confirm slot ${slot} on ${disk}: ${errText(err)}`; log.warn(`boot slot: ${said}`); }
    this.d.events.add("upgrade", `boot slot: ${said}`);
    this.d.publishBootStatus(said);
    if (confirmed) this.raiseSecurityFloor(disk);
  }

  /**
   * Anti-rollback: this boot is confirmed healthy, so the images below the one running may be
   * refused from now on. Only here (never when an image is staged): while a new slot is on
   * trial the old one must still boot, and a failed trial leaves the floor as it was.
   */
  private raiseSecurityFloor(disk: string): void {
    const v = this.d.opts.imageSecurityVersion;
    if (v === undefined) return;
    try {
      const r = raiseFloorOf(disk, v);
      if (r.to === r.from) return;
      const said = `security version floor raised from ${r.from} to ${r.to} (META): images below ${r.to} are refused unless forced`;
      log.info(`boot slot: ${said}`);
      this.d.events.add("upgrade", said, { floor: r.to, previous: r.from });
    } catch (err) {
      const said = `could not raise the security version floor to ${v}: ${errText(err)}`;
      log.warn(`boot slot: ${said}`);
      this.d.events.add("upgrade", said);
    }
  }

  /** Marks a slot whose trial failed so it is never booted again; says what was done. */
  private retire(disk: string, failed: Slot): string {
    const work = scratch(this.d.opts.workDir, "confirm");
    try {
      markSlotFailed(disk, failed, work);
      return `slot ${failed} relabelled FAILED-${failed}: rollback refuses it, the next upgrade rewrites it`;
    } catch (err) {
      return `could not relabel slot ${failed} (${errText(err)}): do not roll back to it`;
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }

  /** Rollback: the other slot boots from now on, unless its image is below the floor and this is not forced. */
  rollback(force: boolean): void {
    this.checkRollbackFloor(force);
    const r = rollbackRunning(installedDisk(this.d.opts).disk);
    this.d.events.add("upgrade", `rollback: slot ${r.slot} boots from now on (was ${r.from})`, { slot: r.slot });
  }

  /**
   * A rollback boots the other slot's image: below the floor it is refused as an upgrade to it
   * would be, unless forced (and then the event names both versions).
   */
  private checkRollbackFloor(force: boolean): void {
    const { disk, slot } = installedDisk(this.d.opts);
    const floor = floorOf(disk);
    if (floor === 0) return;
    const target = otherSlot(slot);
    const work = scratch(this.d.opts.workDir, "rollback");
    let version: number | null;
    try { version = slotSecurityVersion(disk, target, work, this.d.opts.imageKey); } finally { rmSync(work, { recursive: true, force: true }); }
    if (version === null) return; // no system there: the rollback itself refuses it, saying so
    if (belowFloor(version, floor, force, `slot ${target}`, "bunkerctl rollback --force")) this.forcedDowngrade("rollback", version, floor);
  }

  /** A deliberate downgrade below the floor: said in the log and as an event naming both versions. */
  private forcedDowngrade(what: "upgrade" | "rollback", version: number, floor: number): void {
    const said = `forced ${what} below the security version floor: image security version ${version} < floor ${floor}; installing it as asked (--force); the floor stays ${floor}`;
    log.warn(`${what}: ${said}`);
    this.d.events.add("upgrade", said, { securityVersion: version, floor, forced: true });
  }

  /**
   * Downloads and checks the image at `url`, then writes it to the other slot, which boots once
   * at the next reboot. Everything that can fail happens before anything of the running node stops.
   */
  async upgrade(url: string, signal: AbortSignal, force: boolean): Promise<void> {
    const { disk, slot } = installedDisk(this.d.opts);
    const key = this.d.opts.imageKey;
    if (!key) throw new Error("upgrade: this node has no trusted image key (etc/bunker/image.pub of its initramfs), so no image can be checked");
    let floor: number;
    // Unreadable META refuses the upgrade (its own write of META would fail too), before any download.
    try { floor = floorOf(disk); } catch (err) { throw new ImageError(`cannot check images against the security version floor: ${errText(err)}`, false); }
    const say = progress(this.d.events, "upgrade");
    const work = scratch(this.d.opts.workDir, "upgrade");
    try {
      say(`fetching ${url}`);
      // Checked on the signed manifest, before the kernel and initramfs are fetched.
      const accept = (m: Parameters<typeof securityVersionOf>[0]) => {
        const v = securityVersionOf(m);
        if (belowFloor(v, floor, force, `image ${url}`, "bunkerctl upgrade --force")) this.forcedDowngrade("upgrade", v, floor);
      };
      const image = await downloadImage(url, join(work, "image"), key, { signal, progress: say, accept });
      // The slot's copy and fsyncs run in a child (diskjob.ts), which checks the folder again.
      const r = await runDiskJob({ kind: "upgrade", disk, booted: slot, image: image.dir, key: publicKeyPem(key), work }, { progress: say, signal });
      if (r.kind !== "upgrade") throw new Error(`upgrade: the disk job answered a ${r.kind} result`);
      say(`slot ${r.slot} holds ${image.manifest.build.version ?? "the new image"}; it boots once at the next reboot and is kept when healthy`);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
}

/** The image key as the disk job child takes it. */
function publicKeyPem(key: KeyObject): string {
  return key.export({ type: "spki", format: "pem" }).toString();
}
