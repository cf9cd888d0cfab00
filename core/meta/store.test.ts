import { afterAll, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { openDisk, type DiskDevice } from "../gpt/device.ts";
import { BLOCK_SIZE, MAGIC1, Tag, decodeBlock, encodeBlock, type MetaValues } from "./block.ts";
import { getText, readMeta, setText, updateMeta, writeMeta, type MetaLocation } from "./store.ts";
import { have, sparseImage, tempDir, tool } from "../../test/disktools.ts";

const tmp = tempDir("bunker-meta-");
afterAll(tmp.cleanup);
let n = 0;
const MiB = 1024 * 1024;
/** A 3 MiB "disk" whose META partition starts at 1 MiB, as on a real layout. */
function disk(): { path: string; dev: DiskDevice; loc: MetaLocation } {
  const path = sparseImage(join(tmp.dir, `meta${n++}.img`), 3 * MiB);
  const dev = openDisk(path, { write: true });
  return { path, dev, loc: { dev, offset: MiB } };
}
function sample(): MetaValues {
  const v: MetaValues = new Map();
  setText(v, Tag.Upgrade, "A");
  setText(v, Tag.UserReserved1, "hello, wörld");
  v.set(Tag.UniqueMachineToken, new Uint8Array([0, 1, 2, 255]));
  return v;
}
function flip(dev: DiskDevice, at: number) {
  const b = dev.read(at, 1);
  b[0] = b[0]! ^ 0x5a;
  dev.write(at, b);
}

test("values written are read back from copy 1, and both copies are identical", () => {
  const { dev, loc } = disk();
  writeMeta(loc, sample());
  const r = readMeta(loc);
  expect(r.ok && r.copy).toBe(1);
  if (!r.ok) throw new Error(r.error);
  expect(r.problems).toEqual([]);
  expect(getText(r.values, Tag.Upgrade)).toBe("A");
  expect(getText(r.values, Tag.UserReserved1)).toBe("hello, wörld");
  expect([...r.values.get(Tag.UniqueMachineToken)!]).toEqual([0, 1, 2, 255]);
  expect(Buffer.from(dev.read(MiB, BLOCK_SIZE)).equals(Buffer.from(dev.read(MiB + BLOCK_SIZE, BLOCK_SIZE)))).toBe(true);
  dev.close();
});

test.skipIf(!have("python3"))("the block format is what docs/meta.md says: checked by an independent Python reader", () => {
  const { path, dev, loc } = disk();
  writeMeta(loc, sample());
  dev.close();
  // Written from the format description alone: magics, big-endian {tag,len,value}, SHA-256 at -36 over the block with it zeroed.
  const py = `
import hashlib, struct, sys
data = open(sys.argv[1], "rb").read()
for copy in (0, 1):
    b = bytearray(data[1048576 + copy * 262144: 1048576 + (copy + 1) * 262144])
    assert struct.unpack(">I", b[:4])[0] == 0x5A4B3C2D and struct.unpack(">I", b[-4:])[0] == 0xA5B4C3D2
    stored = bytes(b[-36:-4]); b[-36:-4] = bytes(32)
    print("copy", copy + 1, "sha256", "ok" if hashlib.sha256(b).digest() == stored else "BAD")
    at = 4
    while True:
        tag, ln = struct.unpack(">II", b[at:at + 8])
        if tag == 0: break
        print("tag", tag, b[at + 8:at + 8 + ln].hex()); at += 8 + ln
`;
  const r = tool(["/usr/bin/python3", "-c", py, path]);
  expect(r.err).toBe("");
  expect(r.out).toBe([
    "copy 1 sha256 ok", "tag 6 41", "tag 12 68656c6c6f2c2077c3b6726c64", "tag 16 000102ff",
    "copy 2 sha256 ok", "tag 6 41", "tag 12 68656c6c6f2c2077c3b6726c64", "tag 16 000102ff", "",
  ].join("\n"));
});

test("a corrupt copy 1 (one byte anywhere) is detected and copy 2 is read", () => {
  for (const where of [0, 10, 1000, BLOCK_SIZE - 20, BLOCK_SIZE - 1]) {
    const { dev, loc } = disk();
    writeMeta(loc, sample());
    flip(dev, MiB + where);
    const r = readMeta(loc);
    if (!r.ok) throw new Error(r.error);
    expect(r.copy).toBe(2);
    expect(r.problems[0]).toMatch(/^copy 1 at byte 1048576: (bad magic|SHA-256 mismatch)/);
    expect(getText(r.values, Tag.Upgrade)).toBe("A");
    dev.close();
  }
});

test("a corrupt copy 2 is reported while copy 1 is read", () => {
  const { dev, loc } = disk();
  writeMeta(loc, sample());
  flip(dev, MiB + BLOCK_SIZE + 5);
  const r = readMeta(loc);
  if (!r.ok) throw new Error(r.error);
  expect(r.copy).toBe(1);
  expect(r.problems).toEqual([`copy 2 at byte ${MiB + BLOCK_SIZE}: SHA-256 mismatch`]);
  dev.close();
});

test("both copies corrupt: a clear error value naming both, no exception, and updates refuse", () => {
  const { dev, loc } = disk();
  writeMeta(loc, sample());
  flip(dev, MiB + 7);
  flip(dev, MiB + BLOCK_SIZE + BLOCK_SIZE - 2);
  const r = readMeta(loc);
  expect(r.ok).toBe(false);
  if (r.ok) return;
  expect(r.blank).toBe(false);
  expect(r.error).toMatch(/META unreadable: copy 1 at byte 1048576: SHA-256 mismatch; copy 2 at byte 1310720: bad magic2/);
  expect(() => updateMeta(loc, (v) => setText(v, Tag.Upgrade, "B"))).toThrow(/refusing to overwrite/);
  updateMeta(loc, (v) => setText(v, Tag.Upgrade, "B"), true);
  const again = readMeta(loc);
  expect(again.ok && getText(again.values, Tag.Upgrade)).toBe("B");
  dev.close();
});

test("blank META is reported as blank, and an update starts from empty", () => {
  const { dev, loc } = disk();
  const r = readMeta(loc);
  expect(r.ok).toBe(false);
  expect(!r.ok && r.blank).toBe(true);
  updateMeta(loc, (v) => setText(v, Tag.DownloadURLCode, "x"));
  const after = readMeta(loc);
  expect(after.ok && [...after.values.keys()]).toEqual([Tag.DownloadURLCode]);
  dev.close();
});

test("a write torn at any byte reads back as the whole old or the whole new block", () => {
  const { dev, loc } = disk();
  const old = sample();
  const next = sample();
  setText(next, Tag.Upgrade, "B");
  next.delete(Tag.UserReserved1);
  const seen = new Set<string>();
  // Cut points: inside copy 2, between copies, inside copy 1.
  const cuts = [0, 1, 4, 100, BLOCK_SIZE - 3, BLOCK_SIZE, BLOCK_SIZE + 1, BLOCK_SIZE + 50, 2 * BLOCK_SIZE - 1];
  for (const cut of cuts) {
    writeMeta(loc, old);
    let budget = cut;
    const torn: DiskDevice = {
      path: dev.path, size: dev.size, sectorSize: dev.sectorSize, read: dev.read.bind(dev), sync: dev.sync.bind(dev), close: dev.close.bind(dev),
      write(offset, data) {
        const k = Math.min(budget, data.length);
        if (k > 0) dev.write(offset, data.subarray(0, k));
        budget -= k;
        if (k < data.length) throw new Error("power cut");
      },
    };
    expect(() => writeMeta({ dev: torn, offset: MiB }, next)).toThrow("power cut");
    const r = readMeta(loc);
    if (!r.ok) throw new Error(`cut at ${cut}: ${r.error}`);
    const got = getText(r.values, Tag.Upgrade);
    seen.add(got!);
    if (got === "A") expect(getText(r.values, Tag.UserReserved1)).toBe("hello, wörld");
    else expect(r.values.has(Tag.UserReserved1)).toBe(false);
  }
  expect([...seen].sort()).toEqual(["A", "B"]);
  dev.close();
});

test("a value too big for the block is refused with how much room is left", () => {
  const v: MetaValues = new Map([[Tag.UserReserved2, new Uint8Array(BLOCK_SIZE)]]);
  expect(() => encodeBlock(v)).toThrow(/META is full: tag 13 \(262144 bytes\) does not fit; 262096 bytes left/);
  expect(() => encodeBlock(new Map([[0, new Uint8Array(1)]]))).toThrow(/tag 0 is not an integer in 1/);
});

test("decodeBlock rejects lengths that run past the data even with a valid checksum", () => {
  const b = encodeBlock(new Map([[Tag.Upgrade, new Uint8Array([65])]]), 4096);
  const v = new DataView(b.buffer);
  expect(v.getUint32(0)).toBe(MAGIC1);
  v.setUint32(8, 5000); // length of tag 6
  // Re-seal so that only the length is wrong.
  const resealed = encodeBlock(new Map(), 4096);
  resealed.set(b.subarray(0, 13));
  resealed.fill(0, 4096 - 36, 4092);
  resealed.set(createHash("sha256").update(resealed).digest(), 4096 - 36);
  expect(decodeBlock(resealed)).toEqual({ error: "tag 6 at byte 4 claims 5000 bytes, past the end of the data" });
});
