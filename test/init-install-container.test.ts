/**
 * Upgrade, Rollback and Reset through init's API handlers (the gRPC contract layer), in container
 * mode, acting on a real installed disk image FILE (init given --disk/--slot): the image is
 * served over HTTP on 127.0.0.1 and fetched, checked against its signed manifest and written
 * into the inactive slot through a loop mount; refusals leave the disk as it was and stop no
 * service. The disk is checked afterwards with e2fsck, debugfs and blkid. Needs root (loop
 * devices and mount(2)); the QEMU version on a real node is test/qemu/upgrade.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eventually } from "./lib/eventually.ts";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openDisk } from "../core/gpt/device.ts";
import { Label } from "../core/disklayout/plan.ts";
import { extent, findVolume } from "../core/disklayout/volumes.ts";
import { generateSigningKey, loadSigningKey } from "../core/image/manifest.ts";
import { verifyImage } from "../core/install/image.ts";
import { install } from "../core/install/install.ts";
import { bootState, ext4Label, tableOf, type BootState } from "../core/install/slots.ts";
import { readExt4File } from "../core/install/state.ts";
import { withVolume } from "../core/install/volume.ts";
import { Machine, type PowerRequest } from "../services/init/machine.ts";
import { createHandlers } from "../services/init/api/handlers.ts";
import { machineServiceImpl } from "../services/init/api/contract.ts";
import { BOOT_STATUS, EVENTS, SEQUENCES, type BootStatusSpec, type EventSpec, type SequenceSpec } from "../services/init/resources.ts";
import { testKey } from "./image/fixture.ts";
import { imageCopy, serveFolder, type CopyOptions } from "./lib/image-copies.ts";
import { installFixture, type InstallFixture } from "./lib/install-fixture.ts";
import { rejection } from "./lib/rejection.ts";

const root = process.getuid?.() === 0;
if (!root) console.warn("init-install-container: skipped, needs root for loop devices and mount(2) (CI runs as root)");

let fx: InstallFixture | undefined;
let work = "", imageDir = "";
let server: ReturnType<typeof Bun.serve> | undefined;
const CONFIG = "version: v1alpha1\nmachine: {}\n";
const trusted = () => loadSigningKey(testKey()).publicKey;
const ctx = { signal: new AbortController().signal };

beforeAll(async () => {
  if (!root) return;
  fx = await installFixture("init-install-");
  ({ work, image: imageDir } = fx);
  // Serves work/NAME/FILE: each image variant is a folder of its own.
  server = serveFolder(work);
}, 600_000);
afterAll(() => {
  void server?.stop(true);
  fx?.cleanup();
});

const url = (name: string) => `http://127.0.0.1:${server!.port}/${name}/`;

/** A copy of the image named `name` with `change` applied, signed by `key` (the test key: a valid image). */
const variant = (name: string, o: CopyOptions = {}): string => imageCopy(imageDir, join(work, name), o);

/** A disk with Bunker installed (slot A) and a config in STATE. */
function installedDisk(name: string): string {
  const path = fx!.blankDisk(name);
  const dev = openDisk(path, { write: true });
  try { install(dev, verifyImage(imageDir), { wipe: false, config: CONFIG }); } finally { dev.close(); }
  return path;
}

const onDisk = <T>(disk: string, f: (dev: ReturnType<typeof openDisk>) => T): T => {
  const dev = openDisk(disk, { write: true });
  try { return f(dev); } finally { dev.close(); }
};
const slotLabelOnDisk = (disk: string, label: typeof Label.BOOT_A | typeof Label.BOOT_B) =>
  onDisk(disk, (dev) => ext4Label(dev, extent(tableOf(dev), findVolume(tableOf(dev), label)).offset));
const sh = (cmd: string[]) => {
  const r = Bun.spawnSync(cmd, { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C" } });
  return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
};
const debugfsCat = (disk: string, label: string, file: string) =>
  onDisk(disk, (dev) => Bun.spawnSync(["debugfs", "-R", `cat /${file}`, `${disk}?offset=${extent(tableOf(dev), findVolume(tableOf(dev), label as typeof Label.BOOT_B)).offset}`]).stdout);

interface Node { machine: Machine; api: ReturnType<typeof machineServiceImpl>; powered: PowerRequest[]; stateDir: string }

/** A container-mode init acting as if booted from `slot` of `disk`, with one long-running service. */
async function node(name: string, disk: string, slot: "A" | "B"): Promise<Node> {
  const stateDir = join(work, `${name}-state`);
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(join(stateDir, "svc.yaml"), JSON.stringify([{ id: "sleeper", argv: ["/bin/sleep", "1000"] }]));
  const powered: PowerRequest[] = [];
  const machine = new Machine({
    mode: "container", stateDir, runDir: stateDir, noTable: true, servicesFile: join(stateDir, "svc.yaml"),
    install: { disk, slot }, imageKey: trusted(), workDir: join(work, `${name}-work`), onPower: (a) => powered.push(a),
  });
  await machine.boot();
  // The saved copy a reset of STATE must remove too (written after boot: it is no valid config).
  writeFileSync(join(stateDir, "config.yaml"), CONFIG);
  return { machine, api: machineServiceImpl(createHandlers(machine)), powered, stateDir };
}

async function finish(n: Node): Promise<void> {
  await n.machine.supervisor.stopAll();
  n.machine.stopBackground();
}

/** Waits (bounded) until the machine asked for a power action. */
async function poweredOff(n: Node): Promise<PowerRequest> {
  await eventually(() => n.powered.length > 0);
  expect(n.powered.length).toBe(1);
  return n.powered[0]!;
}

describe.skipIf(!root)("Upgrade, Rollback, Reset on an installed disk file (container mode)", () => {
  test("refused images: bad signature, tampered file, unreachable URL, bad URL: nothing changes, nothing stops", async () => {
    const disk = installedDisk("refused.img");
    const n = await node("refused", disk, "A");
    try {
      const before: BootState = onDisk(disk, (dev) => bootState(dev));
      variant("otherkey", { key: generateSigningKey() });
      variant("tampered", { change: (d) => writeFileSync(join(d, "initramfs.zst"), "not the signed bytes"), resign: false });
      const cases: [string, string, RegExp][] = [
        [url("otherkey"), "failed_precondition", /signature does not match the trusted public key/],
        [url("tampered"), "failed_precondition", /initramfs\.zst: size|initramfs\.zst: sha256/],
        [`http://127.0.0.1:9/nothing/`, "unavailable", /fetching http:\/\/127\.0\.0\.1:9\/nothing\/manifest\.json/],
        [url("missing"), "unavailable", /HTTP 404/],
        ["ftp://127.0.0.1/x", "invalid_argument", /only http:\/\/ and https:\/\//],
      ];
      for (const [u, code, says] of cases) {
        const err = await rejection(n.api.Upgrade({ image: u }, ctx));
        expect({ u, code: err.code }).toEqual({ u, code });
        expect(err.message).toMatch(says);
      }
      expect(onDisk(disk, (dev) => bootState(dev))).toEqual(before);
      expect(slotLabelOnDisk(disk, Label.BOOT_B)).toBe("EMPTY-B");
      expect(n.machine.supervisor.status("sleeper").state).toBe("Running");
      expect(n.powered).toEqual([]);
    } finally {
      await finish(n);
    }
  }, 120_000);

  test("staged upgrade writes slot B through a loop mount and arms its trial; no reboot", async () => {
    const disk = installedDisk("staged.img");
    variant("v2");
    const n = await node("staged", disk, "A");
    try {
      const r = await n.api.Upgrade({ image: url("v2"), stage: true }, ctx);
      expect(r.message).toBe("staged: slot B boots once at the next reboot");
      expect(onDisk(disk, (dev) => bootState(dev))).toMatchObject({ slot: "A", trySlot: "B", fallback: "A", problems: [] });
      expect(slotLabelOnDisk(disk, Label.BOOT_B)).toBe("BOOT-B");
      expect(slotLabelOnDisk(disk, Label.BOOT_A)).toBe("BOOT-A");
      expect(Buffer.from(debugfsCat(disk, Label.BOOT_B, "initramfs.zst")).equals(readFileSync(join(imageDir, "initramfs.zst")))).toBe(true);
      expect(Buffer.from(debugfsCat(disk, Label.BOOT_B, "manifest.json")).toString()).toContain('"version": "v2"');
      const b = onDisk(disk, (dev) => extent(tableOf(dev), findVolume(tableOf(dev), Label.BOOT_B)).offset);
      const fsck = sh(["e2fsck", "-fn", `${disk}?offset=${b}`]);
      expect(fsck.out).not.toMatch(/ERROR|corrupt|UNEXPECTED/i);
      expect(fsck.code).toBe(0);
      const progress = n.machine.store.list<EventSpec>(EVENTS).map((e) => e.spec).filter((e) => e.source === "upgrade").map((e) => e.message);
      expect(progress.join("\n")).toMatch(/signature good \(version v2\)[^]*fetching initramfs\.zst[^]*writing slot B[^]*arming a one-shot boot of slot B/);
      expect(n.powered).toEqual([]);
      expect(n.machine.supervisor.status("sleeper").state).toBe("Running");
    } finally {
      await finish(n);
    }
  }, 120_000);

  test("upgrade then reboot; the new slot confirmed; Rollback flips back to A and reboots", async () => {
    const disk = installedDisk("cycle.img");
    variant("v3");
    const a = await node("cycle-a", disk, "A");
    try {
      expect((await a.api.Upgrade({ image: url("v3") }, ctx)).message).toBe("rebooting into slot B");
      expect(await poweredOff(a)).toBe("reboot");
      expect(a.machine.supervisor.status("sleeper").state).not.toBe("Running");
    } finally {
      await finish(a);
    }
    // The trial boot of B: init confirms it at the end of its boot sequence, as on a node.
    const b = await node("cycle-b", disk, "B");
    try {
      expect(onDisk(disk, (dev) => bootState(dev))).toMatchObject({ slot: "B", trySlot: null, fallback: null });
      expect(b.machine.store.get<BootStatusSpec>(BOOT_STATUS)!.spec).toMatchObject({ installed: true, slot: "B", state: "folder", confirmation: `${disk}: upgrade confirmed, slot B boots from now on (slot A kept for rollback)` });
      expect((await b.api.Rollback({}, ctx)).message).toBe("rolling back: rebooting into slot A");
      expect(await poweredOff(b)).toBe("reboot");
      expect(onDisk(disk, (dev) => bootState(dev))).toMatchObject({ slot: "A", trySlot: null, fallback: null });
    } finally {
      await finish(b);
    }
  }, 120_000);

  test("a trial that did not boot: init, back on A, reports it and retires slot B; rollback refuses B; a new upgrade rewrites it", async () => {
    const disk = installedDisk("fellback.img");
    variant("v4");
    const a = await node("fellback-a", disk, "A");
    try {
      await a.api.Upgrade({ image: url("v4"), stage: true }, ctx);
    } finally {
      await finish(a);
    }
    // GRUB tried B once (try_slot cleared), B never confirmed, the machine is back on A.
    const back = await node("fellback-back", disk, "A");
    try {
      expect(back.machine.store.get<BootStatusSpec>(BOOT_STATUS)!.spec.confirmation).toBe(
        `${disk}: the upgrade to slot B did not boot; running on slot A again; slot B relabelled FAILED-B: rollback refuses it, the next upgrade rewrites it`);
      expect(onDisk(disk, (dev) => bootState(dev))).toMatchObject({ slot: "A", trySlot: null, fallback: null });
      expect(slotLabelOnDisk(disk, Label.BOOT_B)).toBe("FAILED-B");
      const err = await rejection(back.api.Rollback({}, ctx));
      expect(err.code).toBe("failed_precondition");
      expect(err.message).toMatch(/slot B holds no Bunker system \(ext4 labelled 'FAILED-B'\)/);
      await back.api.Upgrade({ image: url("v4"), stage: true }, ctx);
      expect(slotLabelOnDisk(disk, Label.BOOT_B)).toBe("BOOT-B");
      expect(onDisk(disk, (dev) => bootState(dev))).toMatchObject({ slot: "A", trySlot: "B", fallback: "A" });
      expect(back.powered).toEqual([]);
    } finally {
      await finish(back);
    }
  }, 120_000);

  test("Rollback to a slot that holds no system is refused and nothing reboots", async () => {
    const disk = installedDisk("norollback.img");
    const n = await node("norollback", disk, "A");
    try {
      const err = await rejection(n.api.Rollback({}, ctx));
      expect(err.code).toBe("failed_precondition");
      expect(err.message).toMatch(/slot B holds no Bunker system \(ext4 labelled 'EMPTY-B'\)/);
      expect(n.powered).toEqual([]);
    } finally {
      await finish(n);
    }
  }, 60_000);

  test("Reset: graceful stops services before the wipe; STATE and EPHEMERAL emptied, slots kept; power off without reboot", async () => {
    const disk = installedDisk("reset.img");
    withVolume(disk, Label.EPHEMERAL, join(work, "eph-mount"), (v) => writeFileSync(join(v.dir, "data"), "x"));
    const n = await node("reset", disk, "A");
    const before = onDisk(disk, (dev) => bootState(dev));
    try {
      expect(onDisk(disk, (dev) => readExt4File(dev, tableOf(dev), Label.STATE, "/config.yaml"))).toBe(CONFIG);
      await n.api.Reset({ graceful: true, reboot: false, wipeVolumes: [] }, ctx);
      expect(await poweredOff(n)).toBe("poweroff");
      const seq = n.machine.store.get<SequenceSpec>({ ...SEQUENCES, id: "reset" })!.spec;
      expect(seq.phases.map((p) => p.name)).toEqual(["stage", "stop-services", "wipe", "power"]);
      expect(onDisk(disk, (dev) => readExt4File(dev, tableOf(dev), Label.STATE, "/config.yaml"))).toBeNull();
      expect(onDisk(disk, (dev) => readExt4File(dev, tableOf(dev), Label.EPHEMERAL, "/data"))).toBeNull();
      expect(readFileSync(join(n.stateDir, "svc.yaml"), "utf8")).toContain("sleeper"); // only the saved config goes from the folder
      expect(() => readFileSync(join(n.stateDir, "config.yaml"))).toThrow();
      expect(onDisk(disk, (dev) => bootState(dev))).toEqual(before);
      expect(slotLabelOnDisk(disk, Label.BOOT_A)).toBe("BOOT-A");
      for (const l of [Label.STATE, Label.EPHEMERAL]) {
        const off = onDisk(disk, (dev) => extent(tableOf(dev), findVolume(tableOf(dev), l)).offset);
        expect(sh(["e2fsck", "-fn", `${disk}?offset=${off}`]).code).toBe(0);
      }
    } finally {
      await finish(n);
    }
  }, 120_000);

  test("Reset of one volume, not graceful: the wipe comes first; an unknown volume is refused", async () => {
    const disk = installedDisk("reset1.img");
    withVolume(disk, Label.EPHEMERAL, join(work, "eph1-mount"), (v) => writeFileSync(join(v.dir, "data"), "x"));
    const n = await node("reset1", disk, "A");
    try {
      const err = await rejection(n.api.Reset({ wipeVolumes: ["BOOT-A"] }, ctx));
      expect(err.code).toBe("invalid_argument");
      expect(n.powered).toEqual([]);
      await n.api.Reset({ graceful: false, reboot: true, wipeVolumes: ["EPHEMERAL"] }, ctx);
      expect(await poweredOff(n)).toBe("reboot");
      const seq = n.machine.store.get<SequenceSpec>({ ...SEQUENCES, id: "reset" })!.spec;
      expect(seq.phases.map((p) => p.name)).toEqual(["stage", "wipe", "stop-services", "power"]);
      expect(onDisk(disk, (dev) => readExt4File(dev, tableOf(dev), Label.EPHEMERAL, "/data"))).toBeNull();
      expect(onDisk(disk, (dev) => readExt4File(dev, tableOf(dev), Label.STATE, "/config.yaml"))).toBe(CONFIG);
      expect(readFileSync(join(n.stateDir, "config.yaml"), "utf8")).toBe(CONFIG);
    } finally {
      await finish(n);
    }
  }, 120_000);
});
