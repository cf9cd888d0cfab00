/**
 * `bunkerctl meta read|write|delete` through the compiled binary's apid (mTLS) to init in
 * container mode booted "from" a disk image file (--disk/--slot) that has Bunker's partition
 * table: what is written is on the disk's META partition (read back with core/meta), the keys
 * init manages are refused and left as they were, a reader's certificate is refused, and a node
 * with no install disk says why.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { applyLayout } from "../core/disklayout/apply.ts";
import { plan } from "../core/disklayout/plan.ts";
import { metaLocation } from "../core/disklayout/volumes.ts";
import { openDisk } from "../core/gpt/device.ts";
import { tableOf } from "../core/install/slots.ts";
import { Tag } from "../core/meta/block.ts";
import { getText, readMeta, setText, updateMeta } from "../core/meta/store.ts";
import { createHandlers } from "../services/init/api/handlers.ts";
import { NOT_INSTALLED, Machine } from "../services/init/machine.ts";
import { freePort, generateCluster, startNode, type Node } from "./lib/container-node.ts";
import { sparseImage, tempDir } from "./disktools.ts";
import { ctl } from "./lib/remote-cluster.ts";

const tmp = tempDir("bunkerctl-meta-");
const disk = join(tmp.dir, "disk.img");
let cluster: ReturnType<typeof generateCluster>;
let node: Node;
let admin = "";
let label = "";

function onMeta<T>(f: (loc: ReturnType<typeof metaLocation>) => T, write = false): T {
  const dev = openDisk(disk, { write });
  try { return f(metaLocation(dev, tableOf(dev))); } finally { dev.close(); }
}

beforeAll(async () => {
  sparseImage(disk, 2 * 1024 ** 3);
  const dev = openDisk(disk, { write: true });
  try { applyLayout(dev, plan(dev.size), { wipe: false, format: false }); } finally { dev.close(); }
  // What an armed upgrade and a confirmed boot would have left: the API must not touch either.
  onMeta((loc) => updateMeta(loc, (v) => { setText(v, Tag.Upgrade, "B"); setText(v, Tag.SecurityVersionFloor, "3"); }), true);
  const port = await freePort();
  cluster = generateCluster(port);
  admin = join(cluster.dir, "bunkerconfig");
  label = `127.0.0.1:${port}`;
  node = await startNode(port, ["--config", cluster.controlplane, "--disk", disk, "--slot", "A"]);
  // gen config names the endpoint and node without a port (50000): this node listens on another.
  expect((await ctl(admin, "config", "endpoint", label)).code).toBe(0);
  expect((await ctl(admin, "config", "node", label)).code).toBe(0);
}, 60_000);

afterAll(async () => {
  await node?.stop();
  if (cluster) rmSync(cluster.dir, { recursive: true, force: true });
  tmp.cleanup();
});

test("write, read (all, one by name, json), delete: the disk's META holds what was said", async () => {
  const w = await ctl(admin, "meta", "write", "0xc", "rack 4");
  expect({ code: w.code, err: w.err }).toEqual({ code: 0, err: "" });
  expect(w.out).toBe(`${label}: META key 0xc set (6 bytes)\n`);
  expect(onMeta((loc) => { const r = readMeta(loc); return r.ok ? getText(r.values, 12) : r.error; })).toBe("rack 4");

  const all = await ctl(admin, "meta", "read");
  expect(all.code).toBe(0);
  const lines = all.out.trim().split("\n");
  expect(lines[0]).toMatch(/^NODE +KEY +NAME +VALUE$/);
  expect(lines.slice(1).map((l) => l.split(/ {2,}/).slice(1))).toEqual([["0x6", "Upgrade", "B"], ["0xc", "UserReserved1", "rack 4"], ["0x40", "SecurityVersionFloor", "3"]]);

  const one = JSON.parse((await ctl(admin, "meta", "read", "userreserved1", "-o", "json")).out);
  expect(one).toEqual([{ node: label, key: "0xc", name: "UserReserved1", value: "rack 4", base64: Buffer.from("rack 4").toString("base64") }]);

  const d = await ctl(admin, "meta", "delete", "12");
  expect({ code: d.code, out: d.out }).toEqual({ code: 0, out: `${label}: META key 0xc deleted\n` });
  expect(onMeta((loc) => { const r = readMeta(loc); return r.ok && r.values.has(12); })).toBe(false);
  const again = await ctl(admin, "meta", "delete", "12");
  expect(again.code).not.toBe(0);
  expect(again.err).toContain("META key 0xc: not set");
  const missing = await ctl(admin, "meta", "read", "0xd");
  expect(missing.code).not.toBe(0);
  expect(missing.err).toContain("META key 0xd: not set");
}, 60_000);

test("the keys init manages are refused for write and delete, and stay as they were", async () => {
  for (const args of [["write", "0x6", "A"], ["delete", "Upgrade"], ["write", "64", "0"], ["delete", "0x40"]]) {
    const r = await ctl(admin, "meta", ...args);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/META key 0x(6|40) \((Upgrade|SecurityVersionFloor)\) cannot be changed through the API/);
  }
  const v = onMeta((loc) => { const r = readMeta(loc); return r.ok ? [getText(r.values, Tag.Upgrade), getText(r.values, Tag.SecurityVersionFloor)] : r.error; });
  expect(v).toEqual(["B", "3"]);
}, 60_000);

test("a key that is no tag is a usage error naming it; a reader's certificate is refused", async () => {
  const bad = await ctl(admin, "meta", "write", "0", "x");
  expect(bad.code).toBe(2);
  expect(bad.err).toContain(`META key "0": expected a tag number in 1..0xffffffff`);
  const reader = join(cluster.dir, "reader-config");
  const made = await ctl(admin, "config", "new", reader, "--roles", "os:reader");
  expect({ code: made.code, err: made.err }).toEqual({ code: 0, err: "" });
  const r = await ctl(reader, "meta", "read");
  expect(r.code).not.toBe(0);
  expect(r.err).toContain("os:admin");
}, 60_000);

test("a node not booted from an installed disk says so", () => {
  const h = createHandlers(new Machine({ mode: "container", stateDir: tmp.dir, runDir: tmp.dir, noTable: true, onPower: () => {} }));
  expect(() => h["meta.read"](0)).toThrow(`meta read: ${NOT_INSTALLED}`);
  expect(() => h["meta.write"](12, new Uint8Array(1))).toThrow(`meta write: ${NOT_INSTALLED}`);
});
