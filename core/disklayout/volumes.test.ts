import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { openDisk } from "../gpt/device.ts";
import { readGpt } from "../gpt/disk.ts";
import { addPartition, emptyTable, MiB } from "../gpt/gpt.ts";
import { PartitionType } from "../gpt/types.ts";
import { Tag } from "../meta/block.ts";
import { getText, readMeta, setText, updateMeta } from "../meta/store.ts";
import { applyLayout } from "./apply.ts";
import { plan } from "./plan.ts";
import { extent, findVolume, metaLocation } from "./volumes.ts";
import { sparseImage, tempDir } from "../../test/disktools.ts";

const tmp = tempDir("bunker-volumes-");
afterAll(tmp.cleanup);

test("META on a freshly laid-out disk reads as blank, then holds what is written, inside its partition", () => {
  const path = sparseImage(join(tmp.dir, "d.img"), 2 * 1024 * MiB);
  const dev = openDisk(path, { write: true });
  try {
    const p = plan(dev.size);
    applyLayout(dev, p, { wipe: false, format: false });
    const table = readGpt(dev).table!;
    const loc = metaLocation(dev, table);
    expect(loc.offset).toBe(p.volumes.find((v) => v.label === "META")!.offset);
    const first = readMeta(loc);
    expect(first.ok === false && first.blank).toBe(true);
    updateMeta(loc, (v) => setText(v, Tag.Upgrade, "A"));
    const r = readMeta(loc);
    expect(r.ok && getText(r.values, Tag.Upgrade)).toBe("A");
    // The neighbours are untouched: still all zero where applyLayout cleared them.
    const state = extent(table, findVolume(table, "STATE"));
    expect(dev.read(state.offset, MiB).every((b) => b === 0)).toBe(true);
    expect(dev.read(loc.offset - MiB, MiB).every((b) => b === 0)).toBe(true);
  } finally {
    dev.close();
  }
});

test("a disk without META, or with two, is an error naming what it found", () => {
  let t = emptyTable(64 * MiB);
  t = addPartition(t, { type: PartitionType.LINUX_DATA, name: "DATA", size: 8 * MiB });
  expect(() => findVolume(t, "META")).toThrow("no partition named META (partitions: DATA)");
  t = addPartition(t, { type: PartitionType.LINUX_DATA, name: "META", size: MiB });
  t = addPartition(t, { type: PartitionType.LINUX_DATA, name: "META", size: MiB });
  expect(() => findVolume(t, "META")).toThrow("2 partitions are named META (#2, #3)");
});
