/**
 * Disk discovery from sysfs: one plain object per whole block device under <sysfs>/block, with
 * what an operator selects an install disk by. The sysfs root is a parameter so tests can point
 * it at a fixture tree. Reads only; a value the kernel does not provide is left undefined.
 */
import { existsSync, readFileSync, readdirSync, realpathSync } from "node:fs";
import { join } from "node:path";

export type Transport = "virtio" | "nvme" | "sata" | "scsi" | "usb" | "mmc" | "loop" | "virtual" | "unknown";
/** The kind of medium, as diskSelector's `type` names it. */
export type DiskType = "nvme" | "ssd" | "hdd" | "sd" | "cd";

export interface Disk {
  /** Kernel name, e.g. "vda", "nvme0n1", "sda". */
  name: string;
  /** Device node: /dev/NAME. */
  devPath: string;
  /** Bytes. */
  size: number;
  /** Logical sector size in bytes. */
  sectorSize: number;
  model?: string;
  vendor?: string;
  serial?: string;
  wwid?: string;
  /** The bus path of the device under /sys/devices, e.g. "/pci0000:00/0000:00:02.0/virtio1". */
  busPath?: string;
  modalias?: string;
  transport: Transport;
  type: DiskType;
  rotational: boolean;
  readOnly: boolean;
  removable: boolean;
  /** Names of the partitions the kernel knows, e.g. ["vda1", "vda2"]. */
  partitions: string[];
}

/** Block devices that are never disks to install on or list: RAM-backed and compressed swap. */
const IGNORED = /^(ram|zram)\d+$/;

function readText(path: string): string | undefined {
  try {
    const s = readFileSync(path, "utf8").replace(/\0/g, "").trim();
    return s === "" ? undefined : s;
  } catch {
    return undefined;
  }
}

function readNumber(path: string): number | undefined {
  const s = readText(path);
  if (s === undefined) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** The transport, from the device's place in the /sys/devices tree. */
export function transportOf(devicePath: string, name: string): Transport {
  if (/^nvme/.test(name) || devicePath.includes("/nvme")) return "nvme";
  if (devicePath.includes("/usb")) return "usb";
  if (devicePath.includes("/virtio")) return "virtio";
  if (devicePath.includes("/ata")) return "sata";
  if (devicePath.includes("/mmc")) return "mmc";
  if (/^loop\d+$/.test(name)) return "loop";
  if (devicePath.includes("/virtual/")) return "virtual";
  if (devicePath.includes("/host") || devicePath.includes("/target")) return "scsi";
  return "unknown";
}

/** One disk's facts from <sysfs>/block/<name>. Throws naming the path when it is not a block device. */
export function readDisk(sysfs: string, name: string): Disk {
  const dir = join(sysfs, "block", name);
  const sectors = readNumber(join(dir, "size"));
  if (sectors === undefined) throw new Error(`${dir}/size: missing or not a number; not a block device?`);
  let real = dir;
  try { real = realpathSync(dir); } catch { /* a plain directory in a fixture */ }
  const devicesRoot = join(sysfs, "devices");
  const rel = real.startsWith(devicesRoot) ? real.slice(devicesRoot.length) : real;
  const transport = transportOf(rel, name);
  const rotational = readNumber(join(dir, "queue", "rotational")) === 1;
  const dev = join(dir, "device");
  const type: DiskType = /^sr\d+$/.test(name) ? "cd"
    : transport === "nvme" ? "nvme"
    : transport === "mmc" ? "sd"
    : rotational ? "hdd" : "ssd";
  const blockSuffix = `/block/${name}`;
  const partitions = safeList(dir).filter((e) => e.startsWith(name) && existsSync(join(dir, e, "partition"))).sort();
  return {
    name,
    devPath: `/dev/${name}`,
    size: sectors * 512, // sysfs counts 512-byte units whatever the sector size
    sectorSize: readNumber(join(dir, "queue", "logical_block_size")) ?? 512,
    model: readText(join(dev, "model")),
    vendor: readText(join(dev, "vendor")),
    serial: readText(join(dev, "serial")) ?? readText(join(dir, "serial")),
    wwid: readText(join(dir, "wwid")) ?? readText(join(dev, "wwid")),
    busPath: rel.endsWith(blockSuffix) && rel !== dir ? rel.slice(0, -blockSuffix.length) : undefined,
    modalias: readText(join(dev, "modalias")),
    transport,
    type,
    rotational,
    readOnly: readNumber(join(dir, "ro")) === 1,
    removable: readNumber(join(dir, "removable")) === 1,
    partitions,
  };
}

function safeList(dir: string): string[] {
  try { return readdirSync(dir); } catch { return []; }
}

export interface DiscoverOptions {
  /** Include loop devices with a backing file (default false: they are never install targets). */
  includeLoop?: boolean;
}

/**
 * Every whole disk under <sysfs>/block, sorted by name. Devices of size 0 (empty loop devices,
 * card readers without a card) and RAM disks are left out.
 */
export function discoverDisks(sysfs = "/sys", opts: DiscoverOptions = {}): Disk[] {
  const names = safeList(join(sysfs, "block")).filter((n) => !IGNORED.test(n)).sort();
  const out: Disk[] = [];
  for (const n of names) {
    const d = readDisk(sysfs, n);
    if (d.size === 0) continue;
    if (d.transport === "loop" && !opts.includeLoop) continue;
    out.push(d);
  }
  return out;
}
