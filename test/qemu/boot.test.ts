/**
 * Boot paths of the image in QEMU (TCG, -cpu max): kernel + initramfs directly, the ISO on BIOS
 * and on UEFI, iPXE over QEMU's TFTP; and a damaged root: a flipped byte in a block the boot reads
 * (the SquashFS superblock) or in the hash tree stops the boot with the verity message, one in a
 * block the boot never reads boots and then fails when that file is read, and a SquashFS from
 * another build under the original root hash does not boot; the etcd extension mounts behind
 * dm-verity and reads whole, and one altered by a byte never mounts. PID 1 is the stand-in of
 * fixtures/stage-init.ts, which runs init's check of the root (services/init/rootfs) and reports
 * what it sees; the console must show each stage in order.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { readCpioFile } from "../../core/image/cpio.ts";
import { ETCD_EXTENSION, KERNEL_CMDLINE, ROOT_VERITY } from "../../core/image/layout.ts";
import { splitInitramfs } from "../../rootfs/build/initramfs.ts";
import { realBinary, stageBinary, testImage } from "../image/fixture.ts";
import { haveQemu, withQemu, type Qemu, type QemuOptions } from "./runner.ts";

const BOOT_MS = 150_000;
let work = "";
let img = "";

/** A file in the test image's root that the boot never reads: incompressible, so SquashFS stores
 * it as it is and the test can find its bytes in the image to damage one. */
const PROBE = "usr/share/bunker/probe";
const probeData = (() => {
  const parts: Buffer[] = [];
  let h = Buffer.from("bunker verity probe");
  for (let i = 0; i < (384 * 1024) / 32; i++) parts.push((h = createHash("sha256").update(h).digest()));
  return Buffer.concat(parts);
})();

beforeAll(async () => {
  if (!haveQemu()) return;
  work = mkdtempSync(join(tmpdir(), "boot-test-"));
  mkdirSync(join(work, "empty"));
  img = await testImage(join(work, "image"), await stageBinary(), { extraRootFiles: [{ path: PROBE, data: probeData }] });
}, 900_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The stages every good boot shows, in this order. */
const STAGES = [
  "[preinit] mounted /proc /sys /dev",
  "[preinit] root: /rootfs.sqsh on dm-verity, root hash ",
  "[preinit] switched root: / is the verified SquashFS; starting /usr/bin/bunker as init",
  "[stage-init] started as init pid 1",
  "[stage-init] root: dm-0 (dm-verity) image test",
  "[stage-init] STAGE-OK os-release=Bunker root-write=EROFS",
];

async function bootsToStageOk(o: QemuOptions): Promise<Qemu> {
  return withQemu(o, async (q) => {
    await q.waitFor("STAGE-OK", BOOT_MS);
    // The guest powers itself off: QEMU ends on its own.
    expect(await q.waitExit(30_000)).toBe(0);
    let last = -1;
    for (const s of STAGES) {
      const i = q.lines.findIndex((l) => l.text.includes(s));
      if (i < 0) throw new Error(`console lacks '${s}':\n${q.tail(60)}`);
      expect(i).toBeGreaterThan(last);
      last = i;
    }
    const ok = q.find("STAGE-OK")!.text;
    expect(ok).toMatch(/binary-bytes=\d{8,}/); // the binary comes from the verified root
    expect(ok).toMatch(/libc-bytes=\d{6,}/);
    // The environment was replaced by the shim's fixed one.
    expect(q.find("started as init")!.text).toContain("env HOME,LANG,PATH,TERM");
    return q;
  });
}

describe.skipIf(!haveQemu())("boot paths (QEMU TCG)", () => {
  test(
    "kernel + initramfs directly; cmdline words do not reach PID 1's environment",
    async () => {
      const q = await bootsToStageOk({ kernel: join(img, "vmlinuz"), initrd: join(img, "initramfs.zst"), append: `${KERNEL_CMDLINE} BUN_BE_BUN=1 BUN_OPTIONS=--inspect stage.read=/${PROBE}` });
      // The file the damage tests below corrupt reads whole when intact.
      expect(q.find("READ-OK")?.text).toContain(`READ-OK /${PROBE} ${probeData.byteLength} bytes`);
    },
    BOOT_MS + 60_000,
  );

  test("ISO on BIOS (SeaBIOS, El Torito)", async () => {
    await bootsToStageOk({ cdrom: join(img, "bunker.iso") });
  }, BOOT_MS + 60_000);

  test("ISO on UEFI (OVMF)", async () => {
    await bootsToStageOk({ cdrom: join(img, "bunker.iso"), uefi: true });
  }, BOOT_MS + 60_000);

  test("iPXE over QEMU's user-network TFTP, with only the base served: the node boots without the extension", async () => {
    const tftp = join(work, "tftp");
    mkdirSync(tftp, { recursive: true });
    for (const f of ["boot.ipxe", "vmlinuz", "initramfs.zst"]) copyFileSync(join(img, f), join(tftp, f));
    const q = await bootsToStageOk({ tftp: { dir: tftp, bootfile: "boot.ipxe" } });
    expect(q.find("[preinit] extension not loaded by the bootloader: bunker-ext-etcd")).toBeDefined();
  }, BOOT_MS + 60_000);

  test("iPXE over HTTP from 127.0.0.1 (QEMU user networking maps 10.0.2.2 to the host)", async () => {
    const served: string[] = [];
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req) {
        const name = new URL(req.url).pathname.slice(1);
        if (!["boot.ipxe", "vmlinuz", "etcd.ext", "initramfs.zst"].includes(name)) return new Response("not found", { status: 404 });
        served.push(name);
        return new Response(Bun.file(join(img, name)));
      },
    });
    try {
      const q = await bootsToStageOk({ tftp: { dir: join(work, "empty"), bootfile: `http://10.0.2.2:${server.port}/boot.ipxe` } });
      // The extension comes before the base initramfs, and the shim puts it behind dm-verity.
      expect(served).toEqual(["boot.ipxe", "vmlinuz", "etcd.ext", "initramfs.zst"]);
      expect(q.find("[preinit] extension on dm-verity, not mounted: bunker-ext-etcd")).toBeDefined();
    } finally {
      server.stop(true);
    }
  }, BOOT_MS + 60_000);

  test("a flipped byte in a block the boot reads (the SquashFS superblock) stops the boot with the verity message", async () => {
    await damagedDoesNotBoot(damage((sqsh) => void (sqsh[100]! ^= 0xff)), "data block 0 is corrupted");
  }, BOOT_MS + 60_000);

  test("a flipped byte in the hash tree stops the boot with the verity message", async () => {
    const { hashStart } = verityOf();
    await damagedDoesNotBoot(damage((sqsh) => void (sqsh[hashStart * 4096 + 17]! ^= 0x01)), "metadata block");
  }, BOOT_MS + 60_000);

  test("a flipped byte in a block the boot never reads: it boots, then reading that file is an I/O error", async () => {
    const initrd = damage((sqsh) => {
      const at = Buffer.from(sqsh.buffer, sqsh.byteOffset, sqsh.byteLength).indexOf(probeData.subarray(192 * 1024, 192 * 1024 + 64));
      // SquashFS stored the incompressible probe as it is; found once, far from its neighbours.
      expect(at).toBeGreaterThan(0);
      sqsh[at + 10]! ^= 0x80;
    });
    await withQemu({ kernel: join(img, "vmlinuz"), initrd, append: `${KERNEL_CMDLINE} stage.read=/${PROBE}` }, async (q) => {
      await q.waitFor("STAGE-OK", BOOT_MS);
      await q.waitFor(`READ-FAIL /${PROBE}: EIO`, 30_000);
      expect(q.find(/device-mapper: verity: .* is corrupted/)?.text).toMatch(/data block \d+ is corrupted/);
      expect(q.find("READ-OK")).toBeUndefined();
    });
  }, BOOT_MS + 60_000);

  test("the etcd extension, loaded before the base as the bootloaders do, mounts behind dm-verity and reads whole", async () => {
    await withQemu({ kernel: join(img, "vmlinuz"), initrd: withExtension(readFileSync(join(img, "etcd.ext"))), append: `${KERNEL_CMDLINE} stage.ext=1` }, async (q) => {
      await q.waitFor("STAGE-OK", BOOT_MS);
      const ok = await q.waitFor("EXT-OK", 60_000);
      expect(ok.text).toMatch(/extension etcd mounted at \/ext\/etcd from \/dev\/dm-\d \(dm-verity\): \d+ files, \d+ bytes read/);
      // etcd and etcdctl: megabytes, not an empty folder.
      expect(Number(/(\d+) bytes read/.exec(ok.text)![1])).toBeGreaterThan(10_000_000);
    });
  }, BOOT_MS + 60_000);

  test("an altered etcd extension never mounts: the kernel names the block, and the node says the extension failed verification", async () => {
    const ext = Buffer.from(readFileSync(join(img, "etcd.ext")));
    // A byte of the SquashFS superblock, which the mount reads first (the archive's file is a view into ext).
    readCpioFile(ext, ETCD_EXTENSION.image)![100]! ^= 0xff;
    await withQemu({ kernel: join(img, "vmlinuz"), initrd: withExtension(ext), append: `${KERNEL_CMDLINE} stage.ext=1` }, async (q) => {
      await q.waitFor("STAGE-OK", BOOT_MS);
      const fail = await q.waitFor("EXT-FAIL", 60_000);
      expect(fail.text).toContain("the etcd extension (/dev/dm-");
      expect(fail.text).toContain("failed verification: its blocks do not match the hash in this image's initramfs");
      expect(q.find(/device-mapper: verity: .* is corrupted/)?.text).toContain("data block 0 is corrupted");
      expect(q.find("EXT-OK")).toBeUndefined();
    });
  }, BOOT_MS + 60_000);

  test("a SquashFS from another build under the original root hash does not boot", async () => {
    const other = await testImage(join(work, "other"), await stageBinary(), { iso: false, version: "other", extraRootFiles: [{ path: PROBE, data: probeData }] });
    const mine = splitInitramfs(readFileSync(join(img, "initramfs.zst")));
    const theirs = splitInitramfs(readFileSync(join(other, "initramfs.zst")));
    expect(Buffer.compare(Buffer.from(readCpioFile(mine.root, "rootfs.sqsh")!), Buffer.from(readCpioFile(theirs.root, "rootfs.sqsh")!))).not.toBe(0);
    const initrd = join(work, "swapped.img");
    writeFileSync(initrd, Buffer.concat([theirs.root, mine.preinitZst]));
    await damagedDoesNotBoot(initrd, "is corrupted");
  }, BOOT_MS + 300_000);
  test("the real init starts from the image: root verified and switched, then init's boot sequence", async () => {
    const real = await testImage(join(work, "real"), await realBinary(), { iso: false });
    await withQemu({ kernel: join(real, "vmlinuz"), initrd: join(real, "initramfs.zst"), append: KERNEL_CMDLINE }, async (q) => {
      await q.waitFor("boot done: stage", BOOT_MS);
      const order = ["[preinit] mounted", "[preinit] root: /rootfs.sqsh on dm-verity", "[preinit] switched root", "rootfs: running on the verified root: dm-0 (dm-verity)", "init starting: mode metal, pid 1", "boot done: stage"];
      const at = order.map((m) => q.lines.findIndex((l) => l.text.includes(m)));
      expect(at.every((i, k) => i >= 0 && (k === 0 || i > at[k - 1]!))).toBe(true);
    });
  }, BOOT_MS + 60_000);

  test("the shim, when the root image is missing, says why on the console and reboots (no panic)", async () => {
    // The image's pre-init archive alone: its root hash and no root image to check it against.
    const cpio = join(work, "shim-only.cpio.zst");
    writeFileSync(cpio, splitInitramfs(readFileSync(join(img, "initramfs.zst"))).preinitZst);
    await withQemu({ kernel: join(img, "vmlinuz"), initrd: cpio, append: KERNEL_CMDLINE }, async (q) => {
      await q.waitFor("[preinit] cannot open /rootfs.sqsh: No such file or directory", BOOT_MS);
      await q.waitFor("[preinit] rebooting in 10 s", 5_000);
      // -no-reboot turns the guest's reboot into QEMU's own exit, status 0 (a kill at the
      // deadline would not be); the kernel's "Restarting system" line is not relied on, since
      // under load its console write can drop characters.
      expect(await q.waitExit(60_000)).toBe(0);
      expect(q.find("Kernel panic")).toBeUndefined();
    });
  }, BOOT_MS + 60_000);
});

function verityOf(): { blocks: number; hashStart: number } {
  const pre = join(work, "preinit.cpio");
  writeFileSync(`${pre}.zst`, splitInitramfs(readFileSync(join(img, "initramfs.zst"))).preinitZst);
  Bun.spawnSync(["zstd", "-d", "-q", "-f", "-o", pre, `${pre}.zst`]);
  const [blocks, hashStart] = Buffer.from(readCpioFile(readFileSync(pre), ROOT_VERITY)!).toString().split(" ").map(Number);
  return { blocks: blocks!, hashStart: hashStart! };
}

/** `ext` (an extension's cpio archive) then the image's initramfs, in one initrd: as GRUB and iPXE load them. */
function withExtension(ext: Uint8Array): string {
  const out = join(work, `with-ext-${++damaged}.img`);
  writeFileSync(out, Buffer.concat([ext, readFileSync(join(img, "initramfs.zst"))]));
  return out;
}

let damaged = 0;
/** The image's initramfs with `edit` applied to the SquashFS (hash tree included), in place: the
 * same root hash, the same sizes. Returns the new file. */
function damage(edit: (sqsh: Uint8Array) => void): string {
  const { root, preinitZst } = splitInitramfs(readFileSync(join(img, "initramfs.zst")));
  const copy = Buffer.from(root);
  edit(readCpioFile(copy, "rootfs.sqsh")!);
  const out = join(work, `damaged-${++damaged}.img`);
  writeFileSync(out, Buffer.concat([copy, preinitZst]));
  return out;
}

/** Boots `initrd`: the kernel names the bad block (`verity` is part of its line), the shim says it
 * cannot mount the root, and the machine reboots without ever starting PID 1's binary. */
async function damagedDoesNotBoot(initrd: string, verity: string): Promise<void> {
  await withQemu({ kernel: join(img, "vmlinuz"), initrd, append: KERNEL_CMDLINE }, async (q) => {
    await q.waitFor("[preinit] cannot mount the verified root", BOOT_MS);
    expect(q.find("[preinit] cannot mount the verified root")!.text).toContain("I/O error");
    expect(q.find(/device-mapper: verity: .* is corrupted/)?.text).toContain(verity);
    await q.waitFor("[preinit] rebooting in 10 s", 5_000);
    expect(await q.waitExit(60_000)).toBe(0);
    expect(q.find("started as init")).toBeUndefined();
    expect(q.find("STAGE-OK")).toBeUndefined();
  });
}
