import { expect, test } from "bun:test";
import { formatIp, maskToPrefix, networkOf, parseCidr, parseIp } from "./ip.ts";

test("IPv6 text is printed as ip(8) prints it (RFC 5952)", () => {
  for (const [inp, out] of [["fd00:0:0:0:0:0:0:2", "fd00::2"], ["::", "::"], ["::1", "::1"], ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["fe80::a:b", "fe80::a:b"], ["1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"], ["::ffff:10.0.0.1", "::ffff:10.0.0.1"]] as const) {
    expect(formatIp(parseIp(inp).bytes)).toBe(out);
  }
});

test("bad addresses are refused with the text named", () => {
  for (const bad of ["10.0.0", "256.1.1.1", "01.2.3.4", "1::2::3", "1:2:3:4:5:6:7:8:9", "abc", ""]) {
    expect(() => parseIp(bad)).toThrow(`invalid IP address "${bad}"`);
  }
  expect(() => parseCidr("10.0.0.1/33")).toThrow("prefix must be 0..32");
  expect(() => parseCidr("10.0.0.1")).toThrow("missing /prefix");
});

test("netmasks and network addresses", () => {
  expect(maskToPrefix(Uint8Array.of(255, 255, 240, 0))).toBe(20);
  expect(() => maskToPrefix(Uint8Array.of(255, 0, 255, 0))).toThrow("non-contiguous");
  expect(formatIp(networkOf(Uint8Array.of(10, 5, 7, 9), 20))).toBe("10.5.0.0");
});
