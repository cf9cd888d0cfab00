/**
 * The boot deadline of a trial boot (machine.install.bootDeadline), with the compiled init in
 * container mode acting as the first boot of an upgraded slot (--disk, --slot B, --trial) on a
 * real installed disk image FILE: a boot that hangs before ready (init's thread blocked for good
 * by a container-only test hook, so none of init's own timers can run) is ended by the deadline's
 * child process (on a node: a reboot, which GRUB's spent one-shot turns into the old slot); the
 * next boot, on slot A as GRUB would choose, reports the failed trial and retires slot B. A trial
 * that becomes ready in time disarms the deadline and is confirmed. Needs root, as the install tests.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eventually as within } from "./lib/eventually.ts";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { openDisk } from "../core/gpt/device.ts";
import { Label } from "../core/disklayout/plan.ts";
import { extent, findVolume } from "../core/disklayout/volumes.ts";
import { verifyImage } from "../core/install/image.ts";
import { bootState, ext4Label, tableOf, upgrade } from "../core/install/slots.ts";
import { installFixture, type InstallFixture } from "./lib/install-fixture.ts";
import { workerConfig } from "./lib/machineconfig.ts";
import { edit } from "../core/config/testdata/fixtures.ts";

const bin = resolve(import.meta.dir, "../out/bunker");
const root = process.getuid?.() === 0;
let fx: InstallFixture | undefined;
const started: ReturnType<typeof Bun.spawn>[] = [];

beforeAll(async () => {
  if (!root) return;
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run scripts/build.ts first`);
  fx = await installFixture("init-boot-deadline-");
}, 600_000);
afterAll(() => {
  for (const p of started) p.kill("SIGKILL");
  fx?.cleanup();
});

/** An installed disk (slot A) with an upgrade staged into slot B (META fallback A, try_slot B). */
function upgradedDisk(name: string): string {
  const disk = fx!.installedDisk(name);
  const dev = openDisk(disk, { write: true });
  try { upgrade(dev, verifyImage(fx!.image)); } finally { dev.close(); }
  return disk;
}

/** A complete worker config whose boot deadline is `deadline`. */
const CONFIG = (deadline: string) => edit(workerConfig(""), '  install:\n    diskSelector:\n      size: ">= 10GB"\n      model: "QEMU*"\n', `  install:\n    disk: /dev/vda\n    bootDeadline: ${deadline}\n`);

/** init in container mode on `disk`; its stderr is collected. */
function init(name: string, disk: string, slot: "A" | "B", extra: string[], deadline = "2s") {
  const state = join(fx!.work, `${name}-state`);
  mkdirSync(state, { recursive: true });
  writeFileSync(join(state, "boot.yaml"), CONFIG(deadline));
  const p = Bun.spawn([bin, "init", "--mode=container", "--state-dir", state, "--no-table", "--config", join(state, "boot.yaml"), "--disk", disk, "--slot", slot, ...extra],
    { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  started.push(p);
  let err = "";
  const done = (async () => { for await (const c of p.stderr as ReadableStream<Uint8Array>) err += new TextDecoder().decode(c); })();
  return { p, err: () => err, done };
}

/** Waits (bounded) for `cond`: a boot under a busy machine may take up to two minutes. */
const eventually = (cond: () => boolean, ms = 120_000) => within(cond, ms);

const deadlineChildren = (ppid: number) => readdirSync("/proc").filter((n) => /^\d+$/.test(n)).filter((n) => {
  try {
    return new RegExp(`^PPid:\\s+${ppid}$`, "m").test(readFileSync(`/proc/${n}/status`, "utf8")) && readFileSync(`/proc/${n}/cmdline`, "utf8").includes("trial-deadline");
  } catch { return false; }
});

const slotLabel = (disk: string, label: typeof Label.BOOT_B) => {
  const dev = openDisk(disk);
  try { return ext4Label(dev, extent(tableOf(dev), findVolume(tableOf(dev), label)).offset); } finally { dev.close(); }
};

describe.skipIf(!root)("the boot deadline of a trial boot", () => {
  test("a trial that hangs before ready is ended by the deadline; the next boot is slot A, which retires slot B", async () => {
    const disk = upgradedDisk("hang.img");
    const b = init("hang", disk, "B", ["--trial", "--inject-fault", "hang-before-ready"]);
    expect(await eventually(() => b.p.exitCode !== null || b.p.signalCode !== null)).toBe(true);
    await b.done;
    // Killed from outside: init itself could not run a line of its own any more.
    expect(b.p.signalCode).toBe("SIGKILL");
    expect(b.err()).toContain("boot deadline: trial boot of slot B: ready within 2s of boot start");
    expect(b.err()).toContain("test hook: the boot hangs before ready");
    expect(b.err()).toMatch(/boot deadline: the trial boot was not ready within [\d.]+ s; killing init \(pid \d+\)/);
    // Never confirmed: slot A is still the slot, with B pending as a failed trial.
    let dev = openDisk(disk);
    try { expect(bootState(dev)).toMatchObject({ slot: "A", fallback: "A" }); } finally { dev.close(); }

    // What GRUB boots next (its one-shot was spent on B): slot A, not a trial.
    const a = init("back", disk, "A", []);
    try {
      expect(await eventually(() => a.err().includes("boot slot:"))).toBe(true);
      expect(a.err()).toContain(`${disk}: the upgrade to slot B did not boot; running on slot A again; slot B relabelled FAILED-B`);
      expect(a.err()).not.toContain("boot deadline");
    } finally {
      a.p.kill("SIGTERM");
      await a.done;
    }
    expect(slotLabel(disk, Label.BOOT_B)).toBe("FAILED-B");
    dev = openDisk(disk);
    try { expect(bootState(dev)).toMatchObject({ slot: "A", trySlot: null, fallback: null }); } finally { dev.close(); }
  }, 300_000);

  test("a trial ready in time disarms the deadline and is confirmed", async () => {
    const disk = upgradedDisk("ready.img");
    // Room enough for a loaded machine: this boot must not be ended.
    const b = init("ready", disk, "B", ["--trial"], "2m");
    try {
      expect(await eventually(() => b.err().includes("deadline disarmed"))).toBe(true);
      expect(b.err()).toContain("boot deadline: trial boot of slot B: ready within 2m of boot start");
      expect(b.err()).toContain("upgrade confirmed, slot B boots from now on");
      // The deadline's child is gone: nothing is left to end this boot.
      expect(await eventually(() => deadlineChildren(b.p.pid).length === 0, 10_000)).toBe(true);
      expect(b.p.exitCode).toBeNull();
    } finally {
      b.p.kill("SIGTERM");
      await b.done;
    }
    const dev = openDisk(disk);
    try { expect(bootState(dev)).toMatchObject({ slot: "B", fallback: null }); } finally { dev.close(); }
  }, 300_000);
});
