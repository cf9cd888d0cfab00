/**
 * A real node on an installed disk, in one QEMU machine that reboots in place (the disk is all
 * that carries over), driven from the host with the compiled bunkerctl through a hostfwd port:
 *   boot 1: slot A, maintenance; apply-config (saved to STATE); a refused upgrade changes nothing;
 *           upgrade from a URL served here on 127.0.0.1 (the guest's 10.0.2.2);
 *   boot 2: slot B, the new version, trial confirmed, and the config still there (read from
 *           STATE after the reboot); rollback;
 *   boot 3: slot A again, the old version, config still there; upgrade to an image whose
 *           initramfs is garbage (well signed);
 *   boot 4: slot B, the kernel panics and the machine reboots (panic=10);
 *   boot 5: slot A by itself (GRUB's one-shot trial), init reports the failed upgrade and
 *           relabels slot B FAILED-B, which rollback then refuses; reset;
 *   boot 6: maintenance mode, no config; the disk then holds both slots and an empty STATE.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDisk } from "../../core/gpt/device.ts";
import { Label } from "../../core/disklayout/plan.ts";
import { extent, findVolume } from "../../core/disklayout/volumes.ts";
import { generateSigningKey } from "../../core/image/manifest.ts";
import { verifyImage } from "../../core/install/image.ts";
import { install } from "../../core/install/install.ts";
import { bootState, ext4Label, tableOf } from "../../core/install/slots.ts";
import { readExt4File } from "../../core/install/state.ts";
import { realBinary, testImage, testKey } from "../image/fixture.ts";
import { imageCopy, serveFolder } from "../lib/image-copies.ts";
import { ctl, ctlOk, genCluster, waitForApi, type Cluster } from "../e2e/node.ts";
import { freePort, haveQemu, withQemu, type Qemu } from "./runner.ts";
import { eventually } from "../lib/eventually.ts";

const BOOT_MS = 240_000;
let work = "", imgA = "", imgB = "", disk = "";
let server: ReturnType<typeof Bun.serve> | undefined;

beforeAll(async () => {
  if (!haveQemu()) return;
  work = mkdtempSync(join(tmpdir(), "upgrade-qemu-"));
  const bin = await realBinary();
  imgA = await testImage(join(work, "a"), bin, { iso: false });
  imgB = await testImage(join(work, "v2"), bin, { iso: false, version: "v2" });
  // The same v2 signed by a key the node does not trust.
  variant("rogue", generateSigningKey());
  // Well signed, but its initramfs is garbage: the kernel panics on it.
  variant("broken", testKey(), (dir) => writeFileSync(join(dir, "initramfs.zst"), Buffer.alloc(4096, 0x5a)));
  disk = join(work, "disk.img");
  writeFileSync(disk, "");
  truncateSync(disk, 2 * 2 ** 30);
  const dev = openDisk(disk, { write: true });
  try { install(dev, verifyImage(imgA), { wipe: false }); } finally { dev.close(); }
  server = serveFolder(work);
}, 900_000);
/** A copy of v2 named `name`, changed by `change`, signed again with `key`. */
const variant = (name: string, key: string, change?: (dir: string) => void): string => imageCopy(imgB, join(work, name), { key, change });

afterAll(() => {
  void server?.stop(true);
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A bunkerctl run that must succeed; its failure carries its output and the console's tail. */
async function ctlOn(q: Qemu, args: string[], bunkerconfig: string, timeoutMs: number): Promise<string> {
  const r = await ctl(args, bunkerconfig, timeoutMs);
  if (r.code !== 0 || r.err !== "") throw new Error(`bunkerctl ${args.join(" ")}: exit ${r.code}\n${r.out}${r.err}\nconsole:\n${q.tail(80)}`);
  return r.out;
}
/** The slots GRUB booted, in order, from its console lines. */
const bootedSlots = (q: Qemu) => q.lines.map((l) => l.text.match(/Bunker: booting slot ([AB])/)?.[1]).filter((s) => s !== undefined);
const count = (q: Qemu, s: string) => q.lines.filter((l) => l.text.includes(s)).length;
/** Waits until the console has shown `marker` `n` times. */
async function nth(q: Qemu, marker: string, n: number, timeoutMs: number): Promise<void> {
  await eventually(() => count(q, marker) >= n || q.exitCode !== null, timeoutMs, 500);
  if (count(q, marker) < n) throw new Error(`'${marker}' seen ${count(q, marker)} times, expected ${n}; console:\n${q.tail(60)}`);
}
const bootStatus = async (c: Cluster) => (JSON.parse(await ctlOk(["get", "bootstatus", "-o", "json"], c.bunkerconfig)) as unknown[])[0];

describe.skipIf(!haveQemu())("a node installed on a disk: STATE, upgrade, rollback, reset (QEMU TCG)", () => {
  test("config survives reboots on STATE; upgrade to B from a URL; rollback to A; a panicking upgrade falls back by itself; reset to maintenance", async () => {
    const port = await freePort();
    const c = await genCluster(join(work, "cluster"), port, "upg");
    const base = `http://10.0.2.2:${server!.port}`;
    await withQemu({ extraArgs: ["-drive", `file=${disk},format=raw,if=virtio`], hostfwd: [{ host: port, guest: 50000 }], allowReboot: true }, async (q) => {
      // Boot 1: slot A, no config yet; STATE is mounted from the disk.
      await q.waitFor("==== node in maintenance mode ====", BOOT_MS);
      expect(bootedSlots(q)).toEqual(["A"]);
      await q.waitFor(/state: \/dev\/vda6 \(ext4, STATE of \/dev\/vda\) on \/system\/state/, 5_000);
      await waitForApi({ port, insecure: true }, 60_000);
      await ctlOk(["apply-config", "--insecure", "-e", `127.0.0.1:${port}`, "-f", c.controlplane]);
      await waitForApi({ bunkerconfig: c.bunkerconfig, port }, 120_000);
      expect(await bootStatus(c)).toMatchObject({ spec: { installed: true, disk: "/dev/vda", slot: "A", image: "test", state: "disk", trial: false } });

      // A refused image: nothing changes, the node runs on.
      const rogue = await ctl(["upgrade", "--image", `${base}/rogue/`], c.bunkerconfig, 300_000);
      expect(rogue.code).not.toBe(0);
      expect(rogue.err).toMatch(/upgrade refused, nothing changed: .*signature does not match the trusted public key/);
      expect(await ctlOk(["services"], c.bunkerconfig)).toMatch(/apid\s+Running/);

      // Upgrade: progress lines from the node, then boot 2 on slot B with the new version.
      const up = await ctlOn(q, ["upgrade", "--image", `${base}/v2/`, "--wait"], c.bunkerconfig, BOOT_MS + 120_000);
      expect(up).toMatch(/signature good \(version v2\)[^]*fetching initramfs\.zst[^]*writing slot B[^]*rebooting into slot B\n[^]*back: running[^\n]*; slot B, image v2 \(.*upgrade confirmed, slot B boots from now on/);
      expect(bootedSlots(q)).toEqual(["A", "B"]);
      expect(await bootStatus(c)).toMatchObject({ spec: { slot: "B", image: "v2", state: "disk", trial: true } });
      // The config came from STATE: nothing on the command line, no apply since the reboot.
      expect(await ctlOk(["get", "machineconfig"], c.bunkerconfig)).toMatch(/v1alpha1\s+\d+\s+state$/m);

      // Rollback: boot 3 on slot A, the old version, the config still there.
      const rb = await ctlOn(q, ["rollback", "--wait"], c.bunkerconfig, BOOT_MS + 120_000);
      expect(rb).toMatch(/rolling back: rebooting into slot A\n[^]*back: running[^\n]*; slot A, image test \(.*running on slot A/);
      expect(bootedSlots(q)).toEqual(["A", "B", "A"]);
      expect(await ctlOk(["get", "machineconfig"], c.bunkerconfig)).toMatch(/v1alpha1\s+\d+\s+state$/m);

      // An upgrade whose new system panics: boot 4 on B dies, boot 5 is A again by itself, and
      // init says the upgrade did not boot.
      const broken = await ctlOn(q, ["upgrade", "--image", `${base}/broken/`, "--wait"], c.bunkerconfig, 2 * BOOT_MS + 120_000);
      expect(broken).toMatch(/rebooting into slot B\n[^]*back: running[^\n]*; slot A, image test \(\/dev\/vda: the upgrade to slot B did not boot; running on slot A again; slot B relabelled FAILED-B/);
      // The slot that panicked is never booted again: rollback refuses it.
      const refused = await ctl(["rollback"], c.bunkerconfig);
      expect(refused.code).not.toBe(0);
      expect(refused.err).toMatch(/slot B holds no Bunker system \(ext4 labelled 'FAILED-B'\)/);
      expect(bootedSlots(q)).toEqual(["A", "B", "A", "B", "A"]);
      expect(q.find("Kernel panic")).toBeDefined();
      expect(await ctlOk(["get", "machineconfig"], c.bunkerconfig)).toMatch(/v1alpha1\s+\d+\s+state$/m);

      // Reset: boot 6 in maintenance mode, no config.
      const maint = count(q, "==== node in maintenance mode ====");
      expect(await ctlOk(["reset", "--reboot"], c.bunkerconfig)).toContain("resetting (STATE, EPHEMERAL), then reboot");
      await nth(q, "==== node in maintenance mode ====", maint + 1, BOOT_MS);
      expect(bootedSlots(q)).toEqual(["A", "B", "A", "B", "A", "A"]);
      expect(await waitForApi({ port, insecure: true }, 60_000)).toMatch(/MAINTENANCE\s*\n.*\byes\s*$/m);
      q.kill();
    });
    // The disk after the reset: the slots as they were (A the slot, B retired), STATE without a config.
    const dev = openDisk(disk);
    try {
      const t = tableOf(dev);
      expect(bootState(dev)).toMatchObject({ slot: "A", trySlot: null, fallback: null });
      expect(ext4Label(dev, extent(t, findVolume(t, Label.BOOT_A)).offset)).toBe("BOOT-A");
      expect(ext4Label(dev, extent(t, findVolume(t, Label.BOOT_B)).offset)).toBe("FAILED-B");
      expect(readExt4File(dev, t, Label.STATE, "/config.yaml")).toBeNull();
    } finally {
      dev.close();
    }
  }, 7 * BOOT_MS + 600_000);
});
