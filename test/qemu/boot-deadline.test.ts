/**
 * The boot deadline on a real node (QEMU TCG, BIOS, one machine that reboots in place): a disk
 * installed from the host with slot A (the real image, a config in STATE whose
 * machine.install.bootDeadline is 60s) and an upgrade staged into slot B whose system hangs
 * before ready (test/qemu/fixtures/hang-init.ts: init's thread blocks for good in the step that
 * would confirm the slot). GRUB boots B once as a trial; init armed the deadline in a child
 * process, which reboots the machine when B is not ready in time; GRUB, its one-shot spent, boots
 * A, whose init reports the failed upgrade and retires slot B (FAILED-B). Nobody touches the node.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDisk } from "../../core/gpt/device.ts";
import { Label } from "../../core/disklayout/plan.ts";
import { extent, findVolume } from "../../core/disklayout/volumes.ts";
import { verifyImage } from "../../core/install/image.ts";
import { install } from "../../core/install/install.ts";
import { bootState, ext4Label, tableOf, upgrade } from "../../core/install/slots.ts";
import { edit } from "../../core/config/testdata/fixtures.ts";
import { realBinary, repo, testImage } from "../image/fixture.ts";
import { workerConfig } from "../lib/machineconfig.ts";
import { haveQemu, withQemu } from "./runner.ts";

const BOOT_MS = 240_000;
let work = "", disk = "";

/** The hanging binary, built like the real one (with the config parser's worker beside it). */
function hangBinary(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const out = join(dir, "bunker");
  const r = Bun.spawnSync([join(repo, "node_modules/.bin/bun"), "build", "--compile", "--minify", "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig",
    join(repo, "test/qemu/fixtures/hang-init.ts"), join(repo, "core/config/parse-worker.ts"), "--outfile", out], { cwd: repo, stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`building hang-init: ${r.stderr.toString()}`);
  return out;
}

beforeAll(async () => {
  if (!haveQemu()) return;
  work = mkdtempSync(join(tmpdir(), "boot-deadline-qemu-"));
  const good = await testImage(join(work, "a"), await realBinary(), { iso: false });
  const hang = await testImage(join(work, "hang"), hangBinary(join(work, "hang-bin")), { iso: false, version: "hang" });
  disk = join(work, "disk.img");
  writeFileSync(disk, "");
  truncateSync(disk, 2 * 2 ** 30);
  const config = edit(workerConfig(""), '  install:\n    diskSelector:\n      size: ">= 10GB"\n      model: "QEMU*"\n', "  install:\n    disk: /dev/vda\n    bootDeadline: 60s\n");
  const dev = openDisk(disk, { write: true });
  try {
    install(dev, verifyImage(good), { wipe: false, config });
    // As `bunker partition upgrade` (and the node's Upgrade) leave it: slot B written, its trial armed.
    upgrade(dev, verifyImage(hang));
  } finally { dev.close(); }
}, 900_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

const bootedSlots = (lines: { text: string }[]) => lines.map((l) => l.text.match(/Bunker: booting slot ([AB])/)?.[1]).filter((s) => s !== undefined);

describe.skipIf(!haveQemu())("the boot deadline of an upgraded slot (QEMU TCG)", () => {
  test("an upgrade whose new system hangs before ready comes back on the old slot by itself, which retires the new one", async () => {
    await withQemu({ extraArgs: ["-drive", `file=${disk},format=raw,if=virtio`], allowReboot: true, memoryMiB: 1024 }, async (q) => {
      await q.waitFor("boot deadline: trial boot of slot B: ready within 60s of boot start", BOOT_MS);
      await q.waitFor("hang-init: the boot hangs before ready (test fixture)", BOOT_MS);
      await q.waitFor(/boot deadline: the trial boot was not ready within [\d.]+ s; rebooting into the slot it came from/, BOOT_MS);
      await q.waitFor(/the upgrade to slot B did not boot; running on slot A again; slot B relabelled FAILED-B/, BOOT_MS);
      expect(bootedSlots(q.lines)).toEqual(["B", "A"]);
      // Slot A is no trial: it arms no deadline (B armed the default, then the config's 60s).
      const backOnA = q.lines.findLastIndex((l) => l.text.includes("Bunker: booting slot A"));
      expect(q.lines.slice(0, backOnA).filter((l) => l.text.includes("boot deadline: trial boot of slot B")).map((l) => l.text.replace(/.*boot deadline: /, "").replace(/ \(.*/, "")))
        .toEqual(["trial boot of slot B: ready within 5m of boot start", "trial boot of slot B: ready within 60s of boot start"]);
      expect(q.lines.slice(backOnA).filter((l) => l.text.includes("boot deadline"))).toEqual([]);
      q.kill();
    });
    const dev = openDisk(disk);
    try {
      const t = tableOf(dev);
      expect(bootState(dev)).toMatchObject({ slot: "A", trySlot: null, fallback: null });
      expect(ext4Label(dev, extent(t, findVolume(t, Label.BOOT_B)).offset)).toBe("FAILED-B");
    } finally { dev.close(); }
  }, 3 * BOOT_MS + 900_000);
});
