/**
 * Device-mapper devices by name: which /dev/dm-N one is (from sysfs), and removing one
 * (DM_DEV_REMOVE). The pre-init shim creates the verity devices; init only finds and drops them.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { bufPtr, check, cstr, libc } from "./libc.ts";

const O_RDWR = 2;
const O_CLOEXEC = 0o2000000;
// struct dm_ioctl (linux/dm-ioctl.h): 312 bytes; the name (128 bytes) at byte 48.
const DM_IOCTL_SIZE = 312;
const OFF_NAME = 48;
const DM_NAME_LEN = 128;
/** _IOWR(0xfd, DM_DEV_REMOVE_CMD = 4, struct dm_ioctl) */
const DM_DEV_REMOVE = 0xc138fd04;

/** "/dev/dm-N" of the device-mapper device named `name`, or undefined when there is none. */
export function dmDeviceByName(name: string, sysBlock = "/sys/block"): string | undefined {
  let entries: string[];
  try { entries = readdirSync(sysBlock); } catch { return undefined; }
  for (const e of entries.filter((x) => x.startsWith("dm-")).sort()) {
    try {
      if (readFileSync(join(sysBlock, e, "dm/name"), "utf8").trim() === name) return `/dev/${e}`;
    } catch { /* gone meanwhile */ }
  }
  return undefined;
}

/** Encodes the struct dm_ioctl of a request about device `name` (exported for tests). */
export function encodeDmIoctl(name: string): Buffer {
  const bytes = Buffer.from(name, "utf8");
  if (bytes.byteLength === 0 || bytes.byteLength >= DM_NAME_LEN) throw new Error(`device-mapper: name '${name}' must be 1 to ${DM_NAME_LEN - 1} bytes`);
  const b = Buffer.alloc(DM_IOCTL_SIZE);
  b.writeUInt32LE(4, 0); // DM_VERSION_MAJOR; minor and patch 0 ask for nothing newer
  b.writeUInt32LE(DM_IOCTL_SIZE, 12); // data_size
  b.writeUInt32LE(DM_IOCTL_SIZE, 16); // data_start
  bytes.copy(b, OFF_NAME);
  return b;
}

/** Removes device-mapper device `name` (EBUSY while it is mounted or open). Throws a SysError. */
export function removeDmDevice(name: string): void {
  const c = libc();
  const ctl = check("open", c.open(cstr("/dev/mapper/control"), O_RDWR | O_CLOEXEC, 0), "/dev/mapper/control");
  try {
    check("ioctl DM_DEV_REMOVE", c.ioctl(ctl, DM_DEV_REMOVE, bufPtr(encodeDmIoctl(name))), name);
  } finally {
    c.close(ctl);
  }
}
