import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { openDisk } from "../gpt/device.ts";
import { Tag } from "../meta/block.ts";
import { readMeta, setText, getText, updateMeta, type MetaLocation } from "../meta/store.ts";
import { sparseImage, tempDir } from "../../test/disktools.ts";
import { belowFloor, DowngradeError, raiseFloor, readFloor } from "./antirollback.ts";
import { ImageError } from "./download.ts";

const tmp = tempDir("bunker-floor-");
afterAll(tmp.cleanup);
let n = 0;
const MiB = 1024 * 1024;
/** META at 1 MiB of a 3 MiB sparse file, as on a real layout. */
function meta(): MetaLocation {
  const dev = openDisk(sparseImage(join(tmp.dir, `floor${n++}.img`), 3 * MiB), { write: true });
  return { dev, offset: MiB };
}

test("blank META: floor 0; raised only upwards; other tags kept; META written only when it rises", () => {
  const loc = meta();
  expect(readFloor(loc)).toBe(0);
  updateMeta(loc, (v) => setText(v, Tag.Upgrade, "A"));
  expect(raiseFloor(loc, 3)).toEqual({ from: 0, to: 3 });
  expect(readFloor(loc)).toBe(3);
  const before = loc.dev.read(loc.offset, 512);
  expect(raiseFloor(loc, 2)).toEqual({ from: 3, to: 3 });
  expect(raiseFloor(loc, 3)).toEqual({ from: 3, to: 3 });
  expect(Buffer.from(loc.dev.read(loc.offset, 512)).equals(Buffer.from(before))).toBe(true);
  expect(raiseFloor(loc, 7)).toEqual({ from: 3, to: 7 });
  const r = readMeta(loc);
  if (!r.ok) throw new Error(r.error);
  expect(getText(r.values, Tag.SecurityVersionFloor)).toBe("7");
  expect(getText(r.values, Tag.Upgrade)).toBe("A");
  expect(() => raiseFloor(loc, -1)).toThrow("expected an integer");
  expect(() => raiseFloor(loc, 1.5)).toThrow("expected an integer");
});

test("a floor that is not a number, or unreadable META, is an error, not floor 0", () => {
  const loc = meta();
  updateMeta(loc, (v) => setText(v, Tag.SecurityVersionFloor, "three"));
  expect(() => readFloor(loc)).toThrow(`META SecurityVersionFloor is "three", not a security version`);
  const junk = meta();
  junk.dev.write(junk.offset, new Uint8Array(512).fill(0x5a));
  junk.dev.write(junk.offset + 256 * 1024, new Uint8Array(512).fill(0x5a));
  expect(() => readFloor(junk)).toThrow("cannot read the security version floor");
});

test("the check: at or above the floor passes; below is refused naming both numbers, or passes when forced", () => {
  expect(belowFloor(5, 5, false, "image X", "use --force")).toBe(false);
  expect(belowFloor(6, 5, false, "image X", "use --force")).toBe(false);
  expect(belowFloor(0, 0, false, "image X", "use --force")).toBe(false);
  expect(belowFloor(4, 5, true, "image X", "use --force")).toBe(true);
  let err: unknown;
  try { belowFloor(4, 5, false, "image X", "bunkerctl upgrade --force"); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(DowngradeError);
  // An ImageError that is not "unreachable": the API answers FAILED_PRECONDITION.
  expect(err).toBeInstanceOf(ImageError);
  expect((err as ImageError).unreachable).toBe(false);
  expect((err as Error).message).toMatch(/^image X has security version 4, below this node's floor 5 .*bunkerctl upgrade --force$/);
});
