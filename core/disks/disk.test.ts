import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { discoverDisks, readDisk, type Disk } from "./disk.ts";
import { tempDir } from "../../test/disktools.ts";

const GiB = 2 ** 30;
const tmp = tempDir("bunker-sysfs-");
afterAll(tmp.cleanup);

interface Fixture {
  name: string;
  /** Under devices/, the device's directory; the block dir is <devdir>/block/<name>. */
  devdir: string;
  size: number;
  attrs?: Record<string, string>;
  device?: Record<string, string>;
  parts?: string[];
}

/** A fake sysfs shaped like the kernel's: block/NAME -> ../devices/.../block/NAME, device -> the parent. */
function makeSysfs(root: string, fixtures: Fixture[]): string {
  for (const f of fixtures) {
    const devdir = join(root, "devices", f.devdir);
    const blk = join(devdir, "block", f.name);
    mkdirSync(join(blk, "queue"), { recursive: true });
    const files: Record<string, string> = { size: String(f.size / 512), ro: "0", removable: "0", "queue/rotational": "0", "queue/logical_block_size": "512", ...f.attrs };
    for (const [k, v] of Object.entries(files)) writeFileSync(join(blk, k), v + "\n");
    for (const [k, v] of Object.entries(f.device ?? {})) writeFileSync(join(devdir, k), v + "\n");
    if (!f.devdir.startsWith("virtual")) symlinkSync(relative(blk, devdir), join(blk, "device"));
    for (const p of f.parts ?? []) {
      mkdirSync(join(blk, p), { recursive: true });
      writeFileSync(join(blk, p, "partition"), "1\n");
    }
    mkdirSync(join(root, "block"), { recursive: true });
    symlinkSync(relative(join(root, "block"), blk), join(root, "block", f.name));
  }
  return root;
}

const FIXTURES: Fixture[] = [
  { name: "vda", devdir: "pci0000:00/0000:00:04.0/virtio2", size: 20 * GiB, attrs: { serial: "vm-disk-1", "queue/rotational": "1" }, device: { modalias: "virtio:d00000002v00001AF4", vendor: "0x1af4" } },
  { name: "nvme0n1", devdir: "pci0000:00/0000:00:05.0/nvme/nvme0", size: 1000204886016, attrs: { wwid: "eui.0025388b91b3c2e1", "queue/logical_block_size": "4096" }, device: { model: "Samsung SSD 980 1TB", serial: "S649NF0R123456" }, parts: ["nvme0n1p1", "nvme0n1p2"] },
  { name: "sda", devdir: "pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0", size: 1000 * 10 ** 9, attrs: { "queue/rotational": "1" }, device: { model: "ST1000DM003-1SB1", vendor: "ATA", wwid: "naa.5000c500a1b2c3d4" }, parts: ["sda1"] },
  { name: "sdb", devdir: "pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0/host6/target6:0:0/6:0:0:0", size: 32 * GiB, attrs: { removable: "1" }, device: { model: "Ultra Fit", vendor: "SanDisk" } },
  { name: "sr0", devdir: "pci0000:00/0000:00:1f.2/ata2/host1/target1:0:0/1:0:0:0", size: 700 * 2 ** 20, attrs: { ro: "1", removable: "1" }, device: { model: "QEMU DVD-ROM" } },
  { name: "mmcblk0", devdir: "platform/fe340000.mmc/mmc_host/mmc0/mmc0:0001", size: 64 * GiB, device: { serial: "0x1234abcd" } },
  { name: "loop0", devdir: "virtual", size: 0 },
  { name: "loop1", devdir: "virtual", size: GiB },
  { name: "zram0", devdir: "virtual", size: 4 * GiB },
];

const sysfs = makeSysfs(join(tmp.dir, "sys"), FIXTURES);

test("every kind of disk is found with its facts; RAM disks, empty and loop devices are left out", () => {
  const disks = discoverDisks(sysfs);
  expect(disks.map((d) => d.name)).toEqual(["mmcblk0", "nvme0n1", "sda", "sdb", "sr0", "vda"]);
  const by = (n: string) => disks.find((d) => d.name === n)!;
  expect(by("vda")).toEqual({
    name: "vda", devPath: "/dev/vda", size: 20 * GiB, sectorSize: 512, model: undefined, vendor: "0x1af4", serial: "vm-disk-1",
    wwid: undefined, busPath: "/pci0000:00/0000:00:04.0/virtio2", modalias: "virtio:d00000002v00001AF4", transport: "virtio",
    type: "hdd", rotational: true, readOnly: false, removable: false, partitions: [],
  } satisfies Disk);
  expect(by("nvme0n1")).toMatchObject({ transport: "nvme", type: "nvme", model: "Samsung SSD 980 1TB", serial: "S649NF0R123456", wwid: "eui.0025388b91b3c2e1", sectorSize: 4096, partitions: ["nvme0n1p1", "nvme0n1p2"] });
  expect(by("sda")).toMatchObject({ transport: "sata", type: "hdd", model: "ST1000DM003-1SB1", vendor: "ATA", wwid: "naa.5000c500a1b2c3d4", size: 1e12, partitions: ["sda1"] });
  expect(by("sdb")).toMatchObject({ transport: "usb", type: "ssd", removable: true, model: "Ultra Fit" });
  expect(by("sr0")).toMatchObject({ transport: "sata", type: "cd", readOnly: true });
  expect(by("mmcblk0")).toMatchObject({ transport: "mmc", type: "sd", serial: "0x1234abcd" });
  expect(discoverDisks(sysfs, { includeLoop: true }).map((d) => d.name)).toContain("loop1");
});

test("a name that is not a block device is an error naming the path", () => {
  expect(() => readDisk(sysfs, "nope")).toThrow(`${sysfs}/block/nope/size: missing or not a number`);
  expect(discoverDisks(join(tmp.dir, "empty"))).toEqual([]);
});

test("this machine's real /sys/block is read without error, and its sizes agree with the kernel", () => {
  const disks = discoverDisks("/sys", { includeLoop: true });
  const procPartitions = readFileSync("/proc/partitions", "utf8").split("\n");
  for (const d of disks) {
    expect(d.devPath).toBe(`/dev/${d.name}`);
    expect(d.size).toBeGreaterThan(0);
    expect([512, 1024, 2048, 4096]).toContain(d.sectorSize);
    // /proc/partitions counts KiB: an independent view of the same size.
    const line = procPartitions.find((l) => l.trim().split(/\s+/)[3] === d.name);
    expect(line).toBeDefined();
    expect(Number(line!.trim().split(/\s+/)[2]) * 1024).toBe(d.size - (d.size % 1024));
  }
});

test.skipIf(!existsSync("/sys/block/vda"))("a virtio disk on this machine (if it has /dev/vda) is seen as virtio", () => {
  expect(readDisk("/sys", "vda").transport).toBe("virtio");
});
