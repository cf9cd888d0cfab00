/**
 * The install sequence of init (machine.install on a node not booted from an installed disk),
 * in container mode: init boots with a config whose machine.install names a disk and an image
 * URL served on 127.0.0.1, with --install-disk standing in for that disk as a disk image FILE.
 * A blank disk is installed (partitions, filesystems, slot A, GRUB for BIOS and UEFI, the config
 * in STATE) and init asks for a reboot; a disk that holds anything without wipe and an image
 * signed by another key are refused before anything is written, the node stays up (its services
 * run) and MachineStatus says why; a disk named with no image URL installs nothing and is no
 * error (the node runs from its boot medium and says so). The disk is checked with sgdisk, blkid,
 * fsck.fat, e2fsck and debugfs. The QEMU version on a real node is test/qemu/node-install.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eventually } from "./lib/eventually.ts";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openDisk } from "../core/gpt/device.ts";
import { Label, type VolumeLabel } from "../core/disklayout/plan.ts";
import { extent, findVolume } from "../core/disklayout/volumes.ts";
import { generateSigningKey, loadSigningKey } from "../core/image/manifest.ts";
import { bootState, ext4Label, tableOf } from "../core/install/slots.ts";
import { readExt4File } from "../core/install/state.ts";
import { Machine, type PowerRequest } from "../services/init/machine.ts";
import { NO_IMAGE_URL } from "../services/init/nodeinstall.ts";
import { EVENTS, MACHINE_STATUS, SERVICES, type EventSpec, type MachineStatusSpec } from "../services/init/resources.ts";
import { edit } from "../core/config/testdata/fixtures.ts";
import { stageBinary, testImage, testKey } from "./image/fixture.ts";
import { workerConfig } from "./lib/machineconfig.ts";
import { imageCopy, serveFolder } from "./lib/image-copies.ts";
import { installFixture, type InstallFixture } from "./lib/install-fixture.ts";

let fx: InstallFixture | undefined;
let server: ReturnType<typeof Bun.serve> | undefined;
const trusted = () => loadSigningKey(testKey()).publicKey;

let iso = "";

beforeAll(async () => {
  fx = await installFixture("init-node-install-");
  // The ISO a node boots from: it carries the signed manifest of its own boot files.
  iso = join(await testImage(join(fx.work, "iso-image"), await stageBinary(), { iso: true }), "bunker.iso");
  // work/NAME/FILE: the image, and a copy signed by another key.
  imageCopy(fx.image, join(fx.work, "other-key"), { version: "other", key: generateSigningKey() });
  server = serveFolder(fx.work);
}, 600_000);
afterAll(() => {
  void server?.stop(true);
  fx?.cleanup();
});

const url = (name: string) => `http://127.0.0.1:${server!.port}/${name}/`;
const FIXTURE_INSTALL = '  install:\n    diskSelector:\n      size: ">= 10GB"\n      model: "QEMU*"\n';
/** A complete worker config whose machine.install names /dev/vda (the test's file stands in for it). */
const config = (image: string, wipe = false) =>
  edit(workerConfig("  network:\n    hostname: installed-node\n"), FIXTURE_INSTALL, `  install:\n    disk: /dev/vda\n    wipe: ${wipe}\n    image: "${image}"\n`);

interface Node { machine: Machine; powered: PowerRequest[]; text: string }

/** A container-mode init booted with `cfg`, installing to `disk`; returns once the boot sequence ended. */
async function boot(name: string, disk: string, cfg: string | null, bootMedium?: string): Promise<Node> {
  const stateDir = join(fx!.work, `${name}-state`);
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(join(stateDir, "svc.yaml"), JSON.stringify([{ id: "sleeper", argv: ["/bin/sleep", "1000"] }]));
  if (cfg !== null) writeFileSync(join(stateDir, "boot.yaml"), cfg);
  const powered: PowerRequest[] = [];
  const machine = new Machine({
    mode: "container", stateDir, runDir: stateDir, noTable: true, servicesFile: join(stateDir, "svc.yaml"),
    configFile: cfg === null ? undefined : join(stateDir, "boot.yaml"), installFromConfig: disk, imageKey: trusted(),
    workDir: join(fx!.work, `${name}-work`), onPower: (a) => powered.push(a), bootMedium,
  });
  await machine.boot().catch(() => {}); // an install's boot sequence ends preempted by the reboot
  await eventually(() => machine.sequencer.running() === undefined);
  return { machine, powered, text: cfg ?? "" };
}

async function finish(n: Node): Promise<void> {
  await n.machine.supervisor.stopAll();
  n.machine.stopBackground();
}

const sh = (cmd: string[]) => {
  const r = Bun.spawnSync(cmd, { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C" } });
  return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
};
const sha = (path: string) => new Bun.CryptoHasher("sha256").update(readFileSync(path)).digest("hex");

/** The unmet conditions of MachineStatus, once the controller has one naming `name` (bounded wait). */
async function unmet(n: Node, name: string): Promise<{ name: string; reason: string }[]> {
  let got: { name: string; reason: string }[] = [];
  await eventually(() => (got = n.machine.store.get<MachineStatusSpec>(MACHINE_STATUS)?.spec.unmetConditions ?? []).some((c) => c.name === name));
  return got;
}

describe("init installs itself on machine.install's disk", () => {
  test("a blank disk: GPT, filesystems, slot A, GRUB, the config in STATE; then a reboot", async () => {
    const disk = fx!.blankDisk("blank.img");
    const n = await boot("blank", disk, config(url("image")));
    try {
      expect(n.powered).toEqual(["reboot"]);
      // The services of the boot medium never started: the reboot came first.
      expect(n.machine.store.list(SERVICES).filter((s) => (s.spec as { state: string }).state === "Running")).toEqual([]);
    } finally { await finish(n); }

    const gpt = sh(["sgdisk", "-v", disk]);
    expect(gpt.out).toContain("No problems found");
    const names = sh(["sgdisk", "-p", disk]).out;
    for (const l of [Label.EFI, Label.BIOS, Label.BOOT_A, Label.BOOT_B, Label.META, Label.STATE, Label.EPHEMERAL]) expect(names).toContain(l);
    const dev = openDisk(disk);
    try {
      const table = tableOf(dev);
      const at = (l: VolumeLabel) => extent(table, findVolume(table, l)).offset;
      expect(ext4Label(dev, at(Label.BOOT_A))).toBe("BOOT-A");
      expect(bootState(dev).slot).toBe("A");
      // The config stored is the text the node booted with, byte for byte.
      expect(readExt4File(dev, table, Label.STATE, "/config.yaml")).toBe(n.text);
      // Slot A holds the image's kernel and initramfs.
      const kernel = Bun.spawnSync(["debugfs", "-R", "cat /vmlinuz", `${disk}?offset=${at(Label.BOOT_A)}`]).stdout;
      expect(new Bun.CryptoHasher("sha256").update(kernel).digest("hex")).toBe(sha(join(fx!.image, "vmlinuz")));
      for (const l of [Label.BOOT_A, Label.STATE]) {
        const e = sh(["e2fsck", "-fn", `${disk}?offset=${at(l)}`]);
        expect(e.out).not.toMatch(/corrupt|error|bad/i);
      }
      // The EFI partition: clean FAT32 with the removable-media loader and grub.cfg.
      const efi = at(Label.EFI);
      expect(sh(["mdir", "-i", `${disk}@@${efi}`, "::/EFI/BOOT"]).out).toContain("BOOTX64");
      expect(sh(["mtype", "-i", `${disk}@@${efi}`, "::/grub/grub.cfg"]).out).toContain("bunker.slot=");
    } finally { dev.close(); }
    // BIOS: boot.img in the MBR's code area (GRUB's signature string is in it).
    expect(Buffer.from(readFileSync(disk).subarray(0, 440)).toString("latin1")).toContain("GRUB");
  }, 300_000);

  const refused = async (name: string, disk: string, cfg: string, reason: string | RegExp) => {
    // Nothing written: the file's mtime and allocated blocks stay (hashing 2 GiB would be slow).
    const written = (p: string) => { const st = statSync(p); return `${st.mtimeMs} ${st.blocks}`; };
    const before = written(disk);
    const n = await boot(name, disk, cfg);
    try {
      expect(n.powered).toEqual([]);
      const conds = await unmet(n, "install");
      const c = conds.find((x) => x.name === "install");
      expect(c?.reason).toMatch(reason);
      // The node stayed up: its services started, the stage is running (with the config).
      expect(n.machine.stage()).toBe("running");
      expect(n.machine.supervisor.ids()).toContain("sleeper");
    } finally { await finish(n); }
    expect(written(disk)).toBe(before);
  };

  test("a disk that holds a partition table is refused without wipe, and left as it was", async () => {
    const disk = fx!.installedDisk("used.img");
    await refused("used", disk, config(url("image")), /is not blank \(it holds a GPT with 7 partition\(s\).*wipe: true/);
  }, 300_000);

  test("a disk named but no image URL installs nothing: the node runs from its boot medium, ready, and says why", async () => {
    // The default gen config names a disk and no image: such a node is not in error.
    const disk = fx!.blankDisk("nourl.img");
    const before = statSync(disk).mtimeMs;
    const n = await boot("nourl", disk, config(""));
    try {
      expect(n.powered).toEqual([]);
      expect(n.machine.stage()).toBe("running");
      const events = n.machine.store.list<EventSpec>(EVENTS).map((e) => e.spec);
      expect(events).toContainEqual(expect.objectContaining({ source: "install", message: `not installing: ${NO_IMAGE_URL}` }));
      // The stage and its install error are one resource: once the status says running, the
      // controller has seen whatever install error came with it.
      expect(await eventually(() => n.machine.store.get<MachineStatusSpec>(MACHINE_STATUS)?.spec.stage === "running")).toBe(true);
      const conds = n.machine.store.get<MachineStatusSpec>(MACHINE_STATUS)?.spec.unmetConditions ?? [];
      expect(conds.map((c) => c.name)).not.toContain("install");
    } finally { await finish(n); }
    expect(statSync(disk).mtimeMs).toBe(before);
  }, 120_000);

  test("no image URL, booted from the ISO: the running image is installed from the medium's signed boot files", async () => {
    const disk = fx!.blankDisk("frommedium.img");
    const n = await boot("frommedium", disk, config(""), iso);
    try {
      expect(n.powered).toEqual(["reboot"]);
      const said = n.machine.store.list<EventSpec>(EVENTS).map((e) => e.spec).filter((e) => e.source === "install").map((e) => e.message).join("\n");
      expect(said).toContain(`the running image, from the boot medium ${iso} (its signed manifest of boot files)`);
      expect(said).toMatch(/image test: signature and slot files verified/);
    } finally { await finish(n); }
    const dev = openDisk(disk);
    try {
      const table = tableOf(dev);
      const at = extent(table, findVolume(table, Label.BOOT_A)).offset;
      expect(bootState(dev).slot).toBe("A");
      // Slot A holds the ISO's own boot files, byte for byte, and their signed manifest.
      for (const f of ["vmlinuz", "initramfs.zst"]) {
        const got = Bun.spawnSync(["debugfs", "-R", `cat /${f}`, `${disk}?offset=${at}`]).stdout;
        expect({ f, sha: new Bun.CryptoHasher("sha256").update(got).digest("hex") }).toEqual({ f, sha: sha(join(fx!.work, "iso-image", f)) });
      }
      expect(readExt4File(dev, table, Label.STATE, "/config.yaml")).toBe(n.text);
    } finally { dev.close(); }
  }, 300_000);

  test("a boot medium whose boot files do not match its signed manifest is refused before anything is written", async () => {
    // The ISO with one byte of its initramfs changed (found by its content, as the ISO stores it whole).
    const bad = join(fx!.work, "tampered.iso");
    const bytes = readFileSync(iso);
    const initramfs = readFileSync(join(fx!.work, "iso-image", "initramfs.zst"));
    const at = bytes.indexOf(initramfs.subarray(0, 4096));
    expect(at).toBeGreaterThan(0);
    bytes[at + 100_000] = bytes[at + 100_000]! ^ 0xff;
    writeFileSync(bad, bytes);
    const disk = fx!.blankDisk("tamperedmedium.img");
    const before = statSync(disk).mtimeMs;
    const n = await boot("tamperedmedium", disk, config(""), bad);
    try {
      expect(n.powered).toEqual([]);
      const c = (await unmet(n, "install")).find((x) => x.name === "install");
      expect(c?.reason).toMatch(/install refused: .*initramfs\.zst: (sha256|size)/);
    } finally { await finish(n); }
    expect(statSync(disk).mtimeMs).toBe(before);
  }, 300_000);

  test("an image signed by another key is refused before anything is written", async () => {
    const disk = fx!.blankDisk("otherkey.img");
    await refused("otherkey", disk, config(url("other-key")), /install refused: .*(signature|key)/i);
  }, 120_000);

  test("booted in maintenance mode (the ISO), an apply-config that names the disk installs, then reboots", async () => {
    const disk = fx!.blankDisk("applied.img");
    const n = await boot("applied", disk, null);
    const text = config(url("image"));
    try {
      expect(n.machine.stage()).toBe("maintenance");
      expect(n.powered).toEqual([]);
      await n.machine.request("apply-config", { raw: text });
      // The install runs as a sequence of its own once the apply-config answered.
      expect(await eventually(() => n.powered.length > 0, 60_000)).toBe(true);
      expect(n.powered).toEqual(["reboot"]);
    } finally { await finish(n); }
    const dev = openDisk(disk);
    try {
      expect(bootState(dev).slot).toBe("A");
      expect(readExt4File(dev, tableOf(dev), Label.STATE, "/config.yaml")).toBe(text);
    } finally { dev.close(); }
  }, 300_000);

  test("with wipe: true a used disk is installed over", async () => {
    const disk = fx!.installedDisk("wipe.img");
    const n = await boot("wipe", disk, config(url("image"), true));
    try { expect(n.powered).toEqual(["reboot"]); } finally { await finish(n); }
    const dev = openDisk(disk);
    try { expect(readExt4File(dev, tableOf(dev), Label.STATE, "/config.yaml")).toContain("wipe: true"); } finally { dev.close(); }
  }, 300_000);
});
