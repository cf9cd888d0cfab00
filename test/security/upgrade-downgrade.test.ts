/**
 * Security finding 6 (downgrade and replay): an upgrade used to accept any image signed with the
 * node's key, an old one with known holes included, fetched over plain http. Now every manifest
 * carries a signed security version, META keeps a floor (the highest security version the node
 * has confirmed booting), and an image below it is refused with FAILED_PRECONDITION naming both
 * numbers, before its kernel and initramfs are even fetched; `force` installs it deliberately and
 * leaves an event naming the versions. The floor rises when a boot is confirmed, not at staging.
 *
 * Container-mode init (the API's contract layer) acting on a real installed disk image file, the
 * image served over http on 127.0.0.1. The image is synthetic (kernel and initramfs are bytes
 * nothing boots): container mode never boots them, and it keeps the test free of a kernel build.
 * Needs root (loop devices and mount(2)).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sign } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDisk } from "../../core/gpt/device.ts";
import { Label } from "../../core/disklayout/plan.ts";
import { extent, findVolume } from "../../core/disklayout/volumes.ts";
import { floorOf } from "../../core/install/antirollback.ts";
import { verifyImage } from "../../core/install/image.ts";
import { install } from "../../core/install/install.ts";
import { bootState, ext4Label, tableOf } from "../../core/install/slots.ts";
import { describeFile, loadSigningKey, rawPublicKey, signManifest } from "../../core/image/manifest.ts";
import { Machine, type PowerRequest } from "../../services/init/machine.ts";
import { createHandlers } from "../../services/init/api/handlers.ts";
import { machineServiceImpl } from "../../services/init/api/contract.ts";
import { EVENTS, type EventSpec } from "../../services/init/resources.ts";
import { testKey } from "../image/fixture.ts";
import { rejection } from "../lib/rejection.ts";

const root = process.getuid?.() === 0;
if (!root) console.warn("upgrade-downgrade: skipped, needs root for loop devices and mount(2)");

let work = "";
let server: ReturnType<typeof Bun.serve> | undefined;
/** Paths the image server was asked for, in order. */
const fetched: string[] = [];
const ctx = { signal: new AbortController().signal };
const trusted = () => loadSigningKey(testKey()).publicKey;
const CONFIG = "version: v1alpha1\nmachine: {}\n";

beforeAll(() => {
  if (!root) return;
  work = mkdtempSync(join(tmpdir(), "sec-downgrade-"));
  server = Bun.serve({
    hostname: "127.0.0.1", port: 0,
    fetch: async (req) => {
      const path = new URL(req.url).pathname;
      fetched.push(path);
      const f = Bun.file(join(work, path));
      return (await f.exists()) ? new Response(f) : new Response("not found", { status: 404 });
    },
  });
});
afterAll(() => {
  void server?.stop(true);
  if (work) rmSync(work, { recursive: true, force: true });
});

const url = (name: string) => `http://127.0.0.1:${server!.port}/${name}/`;

/**
 * An image folder work/NAME signed with the test key: `securityVersion` undefined writes a
 * manifest as builds made before the field did (no securityVersion at all).
 */
function image(name: string, securityVersion: number | undefined): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "vmlinuz"), `kernel of ${name}\n`.repeat(1000));
  writeFileSync(join(dir, "initramfs.zst"), `initramfs of ${name}\n`.repeat(1000));
  const artifacts = ["vmlinuz", "initramfs.zst"].map((n) => describeFile(n, join(dir, n)));
  let json: string, sig: string;
  if (securityVersion === undefined) {
    const { privateKey, publicKey } = loadSigningKey(testKey());
    json = JSON.stringify({ format: "bunker-manifest/1", kind: "image", build: { version: name }, publicKey: rawPublicKey(publicKey).toString("base64"), artifacts }, null, 2) + "\n";
    sig = sign(null, Buffer.from(json), privateKey).toString("base64") + "\n";
  } else {
    ({ json, sig } = signManifest("image", { version: name }, artifacts, testKey(), { securityVersion }));
  }
  writeFileSync(join(dir, "manifest.json"), json);
  writeFileSync(join(dir, "manifest.sig"), sig);
  return dir;
}

/** A 2 GiB sparse disk file with `dir` installed in slot A. */
function installedDisk(name: string, dir: string): string {
  const path = join(work, name);
  writeFileSync(path, "");
  truncateSync(path, 2 * 2 ** 30);
  const dev = openDisk(path, { write: true });
  try { install(dev, verifyImage(dir), { wipe: false, config: CONFIG }); } finally { dev.close(); }
  return path;
}

const onDisk = <T>(disk: string, f: (dev: ReturnType<typeof openDisk>) => T): T => {
  const dev = openDisk(disk, { write: true });
  try { return f(dev); } finally { dev.close(); }
};
const slotB = (disk: string) => onDisk(disk, (dev) => ext4Label(dev, extent(tableOf(dev), findVolume(tableOf(dev), Label.BOOT_B)).offset));

interface Node { machine: Machine; api: ReturnType<typeof machineServiceImpl>; powered: PowerRequest[] }

/** A container-mode init booted from `slot` of `disk`, running an image of `securityVersion`. */
async function node(name: string, disk: string, slot: "A" | "B", securityVersion: number): Promise<Node> {
  const stateDir = join(work, `${name}-state`);
  mkdirSync(stateDir, { recursive: true });
  const powered: PowerRequest[] = [];
  const machine = new Machine({
    mode: "container", stateDir, runDir: stateDir, noTable: true,
    install: { disk, slot }, imageKey: trusted(), imageSecurityVersion: securityVersion,
    workDir: join(work, `${name}-work`), onPower: (a) => powered.push(a),
  });
  await machine.boot();
  return { machine, api: machineServiceImpl(createHandlers(machine)), powered };
}

async function finish(n: Node): Promise<void> {
  await n.machine.supervisor.stopAll();
  n.machine.stopBackground();
}

const events = (n: Node) => n.machine.store.list<EventSpec>(EVENTS).map((e) => e.spec).filter((e) => e.source === "upgrade").map((e) => e.message);

describe.skipIf(!root)("anti-rollback: security version floor in META", () => {
  test("an older security version is refused naming both numbers, before the large files are fetched; an equal one is accepted", async () => {
    const disk = installedDisk("refuse.img", image("sv2", 2));
    image("sv1", 1);
    image("unversioned", undefined);
    const n = await node("refuse", disk, "A", 2);
    try {
      // The confirmed boot of security version 2 raised the floor.
      expect(floorOf(disk)).toBe(2);
      expect(events(n)).toContain("security version floor raised from 0 to 2 (META): images below 2 are refused unless forced");
      const before = onDisk(disk, (dev) => bootState(dev));
      for (const [name, v] of [["sv1", 1], ["unversioned", 0]] as const) {
        fetched.length = 0;
        const err = await rejection(n.api.Upgrade({ image: url(name) }, ctx));
        expect(err.code).toBe("failed_precondition");
        expect(err.message).toContain(`upgrade refused, nothing changed: image ${url(name)} has security version ${v}, below this node's floor 2`);
        expect(err.message).toContain("bunkerctl upgrade --force");
        // Only the signed manifest was fetched: the refusal costs no kernel or initramfs download.
        expect(fetched).toEqual([`/${name}/manifest.json`, `/${name}/manifest.sig`]);
      }
      expect(onDisk(disk, (dev) => bootState(dev))).toEqual(before);
      expect(slotB(disk)).toBe("EMPTY-B");
      expect(n.powered).toEqual([]);
      // No system in slot B: the rollback says so (the floor has nothing to check there).
      const nothing = await rejection(n.api.Rollback({}, ctx));
      expect(nothing.message).toMatch(/slot B holds no Bunker system \(ext4 labelled 'EMPTY-B'\)/);

      image("sv2b", 2);
      expect((await n.api.Upgrade({ image: url("sv2b"), stage: true }, ctx)).message).toBe("staged: slot B boots once at the next reboot");
      expect(slotB(disk)).toBe("BOOT-B");
    } finally {
      await finish(n);
    }
  }, 120_000);

  test("force installs the older image and leaves an event naming both versions; the floor stays", async () => {
    const disk = installedDisk("force.img", image("f-sv5", 5));
    image("f-sv3", 3);
    const n = await node("force", disk, "A", 5);
    try {
      expect(floorOf(disk)).toBe(5);
      const r = await n.api.Upgrade({ image: url("f-sv3"), stage: true, force: true }, ctx);
      expect(r.message).toBe("staged: slot B boots once at the next reboot");
      expect(slotB(disk)).toBe("BOOT-B");
      expect(events(n)).toContain("forced upgrade below the security version floor: image security version 3 < floor 5; installing it as asked (--force); the floor stays 5");
      expect(floorOf(disk)).toBe(5);
    } finally {
      await finish(n);
    }
  }, 120_000);

  test("the floor rises at boot confirmation, not at staging nor after a failed trial; rollback below it needs force", async () => {
    const disk = installedDisk("cycle.img", image("c-sv1", 1));
    image("c-sv4", 4);
    const a = await node("cycle-a", disk, "A", 1);
    try {
      expect(floorOf(disk)).toBe(1);
      await a.api.Upgrade({ image: url("c-sv4"), stage: true }, ctx);
      // Staged only: the old slot must still be allowed to boot.
      expect(floorOf(disk)).toBe(1);
    } finally {
      await finish(a);
    }
    // The trial did not come up (GRUB fell back to A): the floor is unchanged.
    const back = await node("cycle-back", disk, "A", 1);
    try {
      expect(floorOf(disk)).toBe(1);
      await back.api.Upgrade({ image: url("c-sv4"), stage: true }, ctx);
    } finally {
      await finish(back);
    }
    // This time slot B booted and is confirmed: now the floor is 4.
    const b = await node("cycle-b", disk, "B", 4);
    try {
      expect(onDisk(disk, (dev) => bootState(dev))).toMatchObject({ slot: "B", trySlot: null, fallback: null });
      expect(floorOf(disk)).toBe(4);
      const err = await rejection(b.api.Rollback({}, ctx));
      expect(err.code).toBe("failed_precondition");
      expect(err.message).toContain("rollback refused: slot A has security version 1, below this node's floor 4");
      expect(err.message).toContain("bunkerctl rollback --force");
      expect(onDisk(disk, (dev) => bootState(dev)).slot).toBe("B");
      expect(b.powered).toEqual([]);
      expect((await b.api.Rollback({ force: true }, ctx)).message).toBe("rolling back: rebooting into slot A");
      expect(events(b)).toContain("forced rollback below the security version floor: image security version 1 < floor 4; installing it as asked (--force); the floor stays 4");
      expect(onDisk(disk, (dev) => bootState(dev)).slot).toBe("A");
    } finally {
      await finish(b);
    }
    // Back on A (security version 1) after the forced rollback: the floor is never lowered.
    const again = await node("cycle-again", disk, "A", 1);
    try {
      expect(floorOf(disk)).toBe(4);
    } finally {
      await finish(again);
    }
  }, 180_000);
});
