/**
 * Boot paths of the image in QEMU (TCG, -cpu max): kernel + initramfs directly, the ISO on BIOS
 * and on UEFI, iPXE over QEMU's TFTP, and a tampered SquashFS that must not boot. PID 1 is the
 * stand-in of fixtures/stage-init.ts, which runs init's root stage (services/init/rootfs) and
 * reports what it sees; the console must show each stage in order.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readCpioFile, writeCpio } from "../../core/image/cpio.ts";
import { KERNEL_CMDLINE } from "../../core/image/layout.ts";
import { buildPreinit } from "../../rootfs/build/rootfs.ts";
import { run } from "../../rootfs/build/tools.ts";
import { realBinary, repo, stageBinary, testImage } from "../image/fixture.ts";
import { haveQemu, withQemu, type Qemu, type QemuOptions } from "./runner.ts";

const BOOT_MS = 150_000;
let work = "";
let img = "";

beforeAll(async () => {
  if (!haveQemu()) return;
  work = mkdtempSync(join(tmpdir(), "boot-test-"));
  mkdirSync(join(work, "empty"));
  img = await testImage(join(work, "image"), await stageBinary());
}, 900_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The stages every good boot shows, in this order. */
const STAGES = [
  "[preinit] mounted /proc /sys /dev",
  "[stage-init] started as init pid 1",
  "[stage-init] root verified: rootfs.sqsh sha256",
  "[stage-init] root mounted: /dev/loop0 read-only on /newroot",
  "[stage-init] bound 6 file(s) from the initramfs",
  "[stage-init] switched root",
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
    expect(ok).toMatch(/binary-bytes=\d{8,}/); // the real binary is bound over the empty placeholder
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
      await bootsToStageOk({ kernel: join(img, "vmlinuz"), initrd: join(img, "initramfs.zst"), append: `${KERNEL_CMDLINE} BUN_BE_BUN=1 BUN_OPTIONS=--inspect` });
    },
    BOOT_MS + 60_000,
  );

  test("ISO on BIOS (SeaBIOS, El Torito)", async () => {
    await bootsToStageOk({ cdrom: join(img, "bunker.iso") });
  }, BOOT_MS + 60_000);

  test("ISO on UEFI (OVMF)", async () => {
    await bootsToStageOk({ cdrom: join(img, "bunker.iso"), uefi: true });
  }, BOOT_MS + 60_000);

  test("iPXE over QEMU's user-network TFTP", async () => {
    const tftp = join(work, "tftp");
    mkdirSync(tftp, { recursive: true });
    for (const f of ["boot.ipxe", "vmlinuz", "initramfs.zst"]) copyFileSync(join(img, f), join(tftp, f));
    await bootsToStageOk({ tftp: { dir: tftp, bootfile: "boot.ipxe" } });
  }, BOOT_MS + 60_000);

  test("iPXE over HTTP from 127.0.0.1 (QEMU user networking maps 10.0.2.2 to the host)", async () => {
    const served: string[] = [];
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req) {
        const name = new URL(req.url).pathname.slice(1);
        if (!["boot.ipxe", "vmlinuz", "initramfs.zst"].includes(name)) return new Response("not found", { status: 404 });
        served.push(name);
        return new Response(Bun.file(join(img, name)));
      },
    });
    try {
      await bootsToStageOk({ tftp: { dir: join(work, "empty"), bootfile: `http://10.0.2.2:${server.port}/boot.ipxe` } });
      expect(served).toEqual(["boot.ipxe", "vmlinuz", "initramfs.zst"]);
    } finally {
      server.stop(true);
    }
  }, BOOT_MS + 60_000);

  test("a tampered SquashFS does not boot, and the console says why", async () => {
    // Flip one byte of rootfs.sqsh inside the initramfs, keeping its signed manifest.
    const cpio = readFileSync(await decompress());
    const sqsh = readCpioFile(cpio, "rootfs.sqsh")!;
    sqsh[Math.floor(sqsh.length / 2)]! ^= 0xff;
    writeFileSync(join(work, "tampered.cpio"), cpio);
    await run(["zstd", "-q", "-1", "-f", "-o", join(work, "tampered.zst"), join(work, "tampered.cpio")]);
    await withQemu({ kernel: join(img, "vmlinuz"), initrd: join(work, "tampered.zst"), append: KERNEL_CMDLINE }, async (q) => {
      await q.waitFor("FATAL:", BOOT_MS);
      expect(q.find("FATAL:")!.text).toContain("root image does not match its signed manifest, refusing to mount it: rootfs.sqsh: sha256");
      // It reboots (QEMU exits under -no-reboot) without ever mounting the root.
      await q.waitExit(30_000);
      expect(q.find("root mounted")).toBeUndefined();
      expect(q.find("STAGE-OK")).toBeUndefined();
    });
  }, BOOT_MS + 60_000);

  test("the real init starts from the image: root verified and switched, then init's boot sequence", async () => {
    const real = await testImage(join(work, "real"), await realBinary(), { iso: false });
    await withQemu({ kernel: join(real, "vmlinuz"), initrd: join(real, "initramfs.zst"), append: KERNEL_CMDLINE }, async (q) => {
      await q.waitFor("boot done: stage", BOOT_MS);
      const order = ["[preinit] mounted", "rootfs: root verified", "rootfs: root mounted", "rootfs: switched root", "init starting: mode metal, pid 1", "boot done: stage"];
      const at = order.map((m) => q.lines.findIndex((l) => l.text.includes(m)));
      expect(at.every((i, k) => i >= 0 && (k === 0 || i > at[k - 1]!))).toBe(true);
    });
  }, BOOT_MS + 60_000);

  test("the shim, when the binary is missing, says why on the console and reboots (no panic)", async () => {
    const cpio = join(work, "shim-only.cpio");
    writeCpio(cpio, [
      { path: "init", type: "file", mode: 0o755, source: await buildPreinit(join(repo, "rootfs/preinit/preinit.c")) },
      { path: "dev/console", type: "char", mode: 0o600, major: 5, minor: 1 },
      { path: "proc", type: "dir" },
      { path: "sys", type: "dir" },
    ]);
    await withQemu({ kernel: join(img, "vmlinuz"), initrd: cpio, append: KERNEL_CMDLINE }, async (q) => {
      await q.waitFor("[preinit] cannot execute /usr/bin/bunker: No such file or directory", BOOT_MS);
      await q.waitFor("[preinit] rebooting in 10 s", 5_000);
      // -no-reboot turns the guest's reboot into QEMU's own exit, status 0 (a kill at the
      // deadline would not be); the kernel's "Restarting system" line is not relied on, since
      // under load its console write can drop characters.
      expect(await q.waitExit(60_000)).toBe(0);
      expect(q.find("Kernel panic")).toBeUndefined();
    });
  }, BOOT_MS + 60_000);
});

async function decompress(): Promise<string> {
  const out = join(work, "initramfs.cpio");
  await run(["zstd", "-d", "-q", "-f", "-o", out, join(img, "initramfs.zst")]);
  return out;
}
