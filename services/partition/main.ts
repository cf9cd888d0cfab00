/**
 * `bunker partition`: the console view of disks and the one writer of Bunker's disk layout.
 *
 *   show [DISK]                        disks found in sysfs, or one disk's partition table
 *   plan --disk D                      the layout that apply would write
 *   apply --disk D [--dry-run] [--wipe]
 *   repair DISK                        rewrite a damaged primary/backup GPT from the other copy
 *   grow DISK                          after the disk grew: move the backup GPT, grow the last partition
 *   meta DISK                          the META values and the health of both copies
 *
 * Only the disk named on the command line (a path, or --select for a diskSelector) is ever
 * opened for writing, and a disk holding anything is wiped only with --wipe.
 */
import { unknownCommand } from "../../core/cli/args.ts";
import { parseCli, usageError } from "../cli.ts";
import type { DiskDevice } from "../../core/gpt/device.ts";
import { readGpt, repairGpt, writeGpt, fitToDisk, type GptState } from "../../core/gpt/disk.ts";
import { growLastPartition } from "../../core/gpt/edit.ts";
import { typeName } from "../../core/gpt/types.ts";
import { discoverDisks } from "../../core/disks/disk.ts";
import { plan, planText, type LayoutConfig, type LayoutPlan } from "../../core/disklayout/plan.ts";
import { applyLayout, existingContent } from "../../core/disklayout/apply.ts";
import { metaLocation } from "../../core/disklayout/volumes.ts";
import { Tag } from "../../core/meta/block.ts";
import { readMeta } from "../../core/meta/store.ts";
import { rereadPartitions } from "../../core/sys/blkdev.ts";
import { formatBytes } from "../../core/format/bytes.ts";
import { formatTable } from "../../core/format/table.ts";
import { mountedFrom, OPTIONS, targetDisk, toJson, UsageError, withDisk, type Values } from "./args.ts";
import { slotCommand } from "./slot-commands.ts";
import { jobCommand } from "./job.ts";
import { trialDeadline } from "./deadline.ts";

const HELP = `Usage: bunker partition COMMAND [OPTIONS]

Disks and Bunker's disk layout (EFI, BIOS, BOOT-A, BOOT-B, META, STATE, EPHEMERAL).

Commands:
  show [DISK]            list the disks found in sysfs, or show DISK's partition table and its health
  plan --disk D          show the layout that apply would write on D
  apply --disk D         write the layout on D and make its filesystems
  repair DISK            rewrite a corrupt primary or backup GPT from the intact copy
  grow DISK              after DISK grew: move the backup GPT to the end, grow the last partition
  meta DISK              show the META values of DISK and the health of both copies
  install --disk D --image DIR [--config FILE] [--wipe]
                         lay out D, write the image's kernel + initramfs to slot A, GRUB for
                         BIOS and UEFI, and the config into STATE
  upgrade --disk D --image DIR
                         write the inactive slot and boot it once; it becomes the slot only when
                         the node confirms it (else the next boot is the old slot again)
  rollback --disk D      make the other slot the one that boots
  boot-status --disk D   the confirmed slot, a pending trial, META's fallback
  reset --disk D [--volume STATE|EPHEMERAL]...
                         make STATE and EPHEMERAL (or the ones named) new and empty
  job                    run one disk job given as JSON on stdin (init's install, upgrade and
                         reset work, in a process of its own); JSON lines on stdout
  trial-deadline --seconds N --watch PID --then reboot|kill
                         init's boot deadline for an upgraded slot's trial: after N seconds,
                         reboot (or kill PID, in container mode) unless killed first

Options:
  --disk PATH            the one disk to plan for or write (a block device or an image file)
  --select FIELD=VALUE   pick the disk by a diskSelector field instead (repeatable), e.g.
                         --select 'size=>= 10GB' --select type=ssd --select 'model=Samsung*'
  --dry-run              apply: print what would be written and wiped, write nothing
  --wipe                 apply: allowed to destroy what is on the disk (required when it is not blank)
  --no-format            apply: write the partition table only
  --sector-size N        512 or 4096, for image files (block devices report their own)
  --ephemeral-fs FS      ext4 (default) or xfs
  --sysfs DIR            where sysfs is (default /sys)
  --image DIR            install/upgrade: an image folder (checked against its signed manifest first)
  --pubkey KEY           install/upgrade: trust only this image key (file, or base64 of the raw key)
  --config FILE          install: the machine config to store in STATE
  --volume NAME          reset: a volume to wipe (repeatable; default STATE and EPHEMERAL)
  -o, --output FORMAT    text (default) or json
  -h, --help             this help

Exit codes: 0 success, 1 the operation failed or was refused, 2 bad usage.`;

const COMMANDS = ["show", "plan", "apply", "repair", "grow", "meta", "install", "upgrade", "rollback", "boot-status", "reset", "job", "trial-deadline"];

export async function main(argv: string[]): Promise<number> {
  const parsed = parseCli("partition", argv, HELP, OPTIONS, [0, Infinity]);
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  const [cmd, ...rest] = positionals;
  if (cmd === undefined || cmd === "help") {
    console.log(HELP);
    return cmd === "help" ? 0 : 2;
  }
  const json = values.output === "json";
  if (values.output !== undefined && values.output !== "json" && values.output !== "text") {
    console.error(`partition: -o ${values.output}: expected text or json`);
    return 2;
  }
  try {
    switch (cmd) {
      case "show": return rest[0] ? showDisk(rest[0], values, json) : showDisks(values, json);
      case "plan": return planCmd(values, json);
      case "apply": return applyCmd(values, json);
      case "repair": return repairCmd(needOne(rest, "repair"), values, json);
      case "grow": return growCmd(needOne(rest, "grow"), values, json);
      case "meta": return metaCmd(needOne(rest, "meta"), values, json);
      case "install": case "upgrade": case "rollback": case "boot-status": case "reset":
        return slotCommand(cmd, values, json);
      case "job": return await jobCommand();
      case "trial-deadline": return await trialDeadline(values);
      default: {
        console.error(`${unknownCommand("partition", cmd, COMMANDS)}\n(partition --help lists the commands)`);
        return 2;
      }
    }
  } catch (err) {
    if (err instanceof UsageError) return usageError("partition", HELP, err.message);
    console.error(`partition ${cmd}: ${(err as Error).message}`);
    return 1;
  }
}

function needOne(rest: string[], cmd: string): string {
  if (rest.length !== 1) throw new UsageError(`${cmd} takes exactly one DISK`);
  return rest[0]!;
}

function showDisks(values: Values, json: boolean): number {
  const disks = discoverDisks(values.sysfs ?? "/sys");
  if (json) {
    console.log(toJson(disks));
    return 0;
  }
  console.log(formatTable(["DISK", "SIZE", "TYPE", "TRANSPORT", "MODEL", "SERIAL", "RO", "PARTITIONS"],
    disks.map((d) => [d.devPath, formatBytes(d.size), d.type, d.transport, d.model ?? "-", d.serial ?? "-", d.readOnly ? "yes" : "no", String(d.partitions.length)])));
  return 0;
}

function stateText(path: string, dev: DiskDevice, s: GptState): string {
  const lines = [`${path}: ${formatBytes(dev.size)}, ${dev.sectorSize}-byte sectors`];
  if (!s.present) return [...lines, "no GPT"].join("\n");
  lines.push(`primary GPT (LBA 1): ${s.primary.ok ? "ok" : s.primary.reason}`);
  lines.push(`backup GPT (LBA ${s.backup.lba}): ${s.backup.ok ? "ok" : s.backup.reason}`);
  if (s.table) {
    lines.push(`disk GUID ${s.table.diskGuid}, usable LBA ${s.table.firstUsableLba}-${s.table.lastUsableLba}`, "");
    lines.push(formatTable(["#", "NAME", "START", "END", "SIZE", "TYPE", "ATTRS", "GUID"],
      s.table.partitions.map((p) => [String(p.index), p.name || "-", String(p.firstLba), String(p.lastLba),
        formatBytes((p.lastLba - p.firstLba + 1) * dev.sectorSize), typeName(p.type), p.attributes ? "0x" + p.attributes.toString(16) : "-", p.guid])));
  }
  if (s.problems.length) lines.push("", "problems:", ...s.problems.map((p) => `  - ${p}`));
  return lines.join("\n");
}

function showDisk(path: string, values: Values, json: boolean): number {
  return withDisk(path, values, false, (dev) => {
    const s = readGpt(dev);
    if (json) console.log(toJson({ path, size: dev.size, sectorSize: dev.sectorSize, ...s, primary: stripHeader(s.primary), backup: stripHeader(s.backup) }));
    else console.log(stateText(path, dev, s));
    return s.problems.length === 0 || !s.present ? 0 : 1;
  });
}

function stripHeader(c: GptState["primary"]) {
  return c.ok ? { ok: true, lba: c.lba } : c;
}

function layoutConfig(values: Values, dev: DiskDevice): LayoutConfig {
  const fs = values["ephemeral-fs"];
  if (fs !== undefined && fs !== "ext4" && fs !== "xfs") throw new UsageError(`--ephemeral-fs ${fs}: expected ext4 or xfs`);
  return { sectorSize: dev.sectorSize as 512 | 4096, ...(fs ? { ephemeralFilesystem: fs, ephemeralMinSize: fs === "xfs" ? 300 * 2 ** 20 : undefined } : {}) };
}

function planJson(p: LayoutPlan) {
  return { diskSize: p.diskSize, sectorSize: p.sectorSize, diskGuid: p.table.diskGuid, volumes: p.volumes };
}

function planCmd(values: Values, json: boolean): number {
  const { path } = targetDisk(values);
  return withDisk(path, values, false, (dev) => {
    const p = plan(dev.size, layoutConfig(values, dev));
    console.log(json ? toJson({ disk: path, ...planJson(p) }) : `${path}\n${planText(p)}`);
    return 0;
  });
}

function applyCmd(values: Values, json: boolean): number {
  const { path, chosen } = targetDisk(values);
  const dryRun = values["dry-run"] === true;
  return withDisk(path, values, !dryRun, (dev) => {
    const p = plan(dev.size, layoutConfig(values, dev));
    const existing = existingContent(dev);
    const block = dev.path.startsWith("/dev/");
    if (dryRun) {
      if (json) console.log(toJson({ disk: path, dryRun: true, wouldWipe: existing, refusedWithoutWipe: existing.length > 0 && !values.wipe, ...planJson(p) }));
      else {
        console.log(`dry run: nothing is written to ${path}${chosen ? ` (selected: ${chosen.model ?? chosen.name})` : ""}\n${planText(p)}`);
        console.log(existing.length === 0 ? "the disk is blank" : `would destroy: ${existing.join(", ")}${values.wipe ? "" : " (refused without --wipe)"}`);
      }
      return existing.length > 0 && !values.wipe ? 1 : 0;
    }
    const mounted = mountedFrom(path);
    if (block && mounted.length > 0) throw new Error(`${path} is in use (${mounted.join(", ")}); refusing to write`);
    const result = applyLayout(dev, p, {
      wipe: values.wipe === true,
      format: values["no-format"] !== true,
      progress: (step) => { if (!json) console.log(`- ${step}`); },
      afterTable: () => {
        if (!block) return;
        try { rereadPartitions(path); } catch (err) { if (!json) console.log(`- the kernel did not re-read the table (${(err as Error).message}); filesystems are made by offset`); }
      },
    });
    if (json) console.log(toJson({ disk: path, ...result, ...planJson(p) }));
    else console.log(`${path}: layout written${result.wiped.length ? ` (wiped: ${result.wiped.join(", ")})` : ""}; formatted ${result.formatted.join(", ") || "nothing"}`);
    return 0;
  });
}

function repairCmd(path: string, values: Values, json: boolean): number {
  return withDisk(path, values, true, (dev) => {
    const r = repairGpt(dev);
    if (json) console.log(toJson({ disk: path, repaired: r.repaired, fixed: r.repaired ? r.fixed : [] }));
    else console.log(r.repaired ? `${path}: repaired:\n${r.fixed.map((f) => `  - ${f}`).join("\n")}` : `${path}: nothing to repair`);
    return 0;
  });
}

function growCmd(path: string, values: Values, json: boolean): number {
  return withDisk(path, values, true, (dev) => {
    const s = readGpt(dev);
    if (!s.table) throw new Error(`${path}: no readable GPT (${s.problems.join("; ")})`);
    const g = growLastPartition(fitToDisk(s.table, Math.floor(dev.size / dev.sectorSize)));
    writeGpt(dev, g.table);
    const bytes = g.addedSectors * dev.sectorSize;
    if (json) console.log(toJson({ disk: path, partition: g.index, addedBytes: bytes }));
    else console.log(`${path}: partition ${g.index} grew by ${formatBytes(bytes)}; backup GPT at the last LBA (grow its filesystem next)`);
    return 0;
  });
}

const TAG_NAMES: Record<number, string> = Object.fromEntries(Object.entries(Tag).map(([k, v]) => [v, k]));

/** A META value for people: its text when it is printable UTF-8, else hex. */
function metaValue(bytes: Uint8Array): { text?: string; hex?: string } {
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    if (!/[\x00-\x08\x0e-\x1f\x7f]/.test(text)) return { text };
  } catch { /* not UTF-8 */ }
  return { hex: Buffer.from(bytes).toString("hex") };
}

function metaCmd(path: string, values: Values, json: boolean): number {
  return withDisk(path, values, false, (dev) => {
    const s = readGpt(dev);
    if (!s.table) throw new Error(`${path}: no readable GPT (${s.problems.join("; ")})`);
    const r = readMeta(metaLocation(dev, s.table));
    if (!r.ok) {
      if (json) console.log(toJson({ disk: path, ok: false, blank: r.blank, error: r.error }));
      else console.log(r.blank ? `${path}: META is blank (never written)` : r.error);
      return r.blank ? 0 : 1;
    }
    const entries = [...r.values].map(([tag, v]) => ({ tag, name: TAG_NAMES[tag] ?? `tag${tag}`, size: v.length, ...metaValue(v) }));
    if (json) console.log(toJson({ disk: path, ok: true, copy: r.copy, problems: r.problems, values: entries }));
    else {
      console.log(`${path}: META read from copy ${r.copy}${r.problems.length ? `\nproblems:\n${r.problems.map((p) => `  - ${p}`).join("\n")}` : ""}`);
      console.log(formatTable(["TAG", "NAME", "SIZE", "VALUE"], entries.map((e) => [String(e.tag), e.name, String(e.size), e.text ?? `hex:${e.hex}`])));
    }
    return r.problems.length ? 1 : 0;
  });
}
