import { expect, test } from "bun:test";
import { Tag } from "./block.ts";
import { checkChangeable, MetaKeyError, parseMetaKey, tagName } from "./keys.ts";

test("keys: hex, decimal and names (any case); anything else is refused naming the text", () => {
  expect(parseMetaKey("0xc")).toBe(12);
  expect(parseMetaKey("0XC")).toBe(12);
  expect(parseMetaKey("12")).toBe(12);
  expect(parseMetaKey("userReserved1")).toBe(Tag.UserReserved1);
  expect(parseMetaKey("0xffffffff")).toBe(0xffffffff);
  expect(tagName(64)).toBe("SecurityVersionFloor");
  expect(tagName(1000)).toBeUndefined();
  for (const bad of ["0", "0x0", "0x100000000", "-1", "1.5", "", "0xg", "rack"]) {
    expect(() => parseMetaKey(bad)).toThrow(MetaKeyError);
    expect(() => parseMetaKey(bad)).toThrow(`META key "${bad}"`);
  }
});

test("the keys init keeps in step with the disk are not changeable; the rest are", () => {
  expect(() => checkChangeable(Tag.Upgrade)).toThrow("META key 0x6 (Upgrade) cannot be changed through the API");
  expect(() => checkChangeable(Tag.SecurityVersionFloor)).toThrow(/0x40 \(SecurityVersionFloor\).*never lowered/);
  for (const ok of [Tag.UserReserved1, Tag.UUIDOverride, 0xabc]) expect(() => checkChangeable(ok)).not.toThrow();
});
