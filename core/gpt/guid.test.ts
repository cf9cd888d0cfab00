import { expect, test } from "bun:test";
import { derivedGuid, guidFromBytes, guidToBytes, isGuid, randomGuid } from "./guid.ts";
import { PartitionType } from "./types.ts";

test("type GUIDs are written mixed-endian: first three groups little-endian", () => {
  // The EFI System Partition type as it appears on disk (UEFI spec, table 5-7 byte layout).
  const onDisk = Buffer.from("28732ac11ff8d211ba4b00a0c93ec93b", "hex");
  expect(Buffer.from(guidToBytes(PartitionType.EFI)).equals(onDisk)).toBe(true);
  expect(guidFromBytes(onDisk)).toBe(PartitionType.EFI);
});

test("guid text round-trips in either case, and bad text is refused by name", () => {
  const g = "0fc63daf-8483-4772-8e79-3d69d8477de4";
  expect(guidFromBytes(guidToBytes(g))).toBe(g.toUpperCase());
  expect(() => guidToBytes("0FC63DAF-8483-4772-8E79")).toThrow(/not a GUID: "0FC63DAF-8483-4772-8E79"/);
});

test("random GUIDs are version 4 and distinct; derived ones are stable per seed", () => {
  const a = randomGuid(), b = randomGuid();
  expect(isGuid(a)).toBe(true);
  expect(a).not.toBe(b);
  expect(a[14]).toBe("4");
  expect(derivedGuid("disk/EFI")).toBe(derivedGuid("disk/EFI"));
  expect(derivedGuid("disk/EFI")).not.toBe(derivedGuid("disk/META"));
  expect(derivedGuid("x")[14]).toBe("8");
});
