import { expect, test } from "bun:test";
import { isIP } from "node:net";
import { cidrOf, contains, formatCIDR, formatIP, hasHostBits, ipOf, maskToPrefix, networkOf, parseCIDR, parseIP } from "./ip.ts";

test("IPv4 and IPv6 addresses parse to their bytes and print canonically", () => {
  const cases: [string, string][] = [
    ["10.5.0.2", "10.5.0.2"],
    ["0.0.0.0", "0.0.0.0"],
    ["::", "::"],
    ["::1", "::1"],
    ["fd00::2", "fd00::2"],
    ["FD00:0:0:0:0:0:0:2", "fd00::2"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["::ffff:10.0.0.1", "::ffff:10.0.0.1"],
    ["::ffff:a00:1", "::ffff:10.0.0.1"],
    ["1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"],
    ["fe80::a:b", "fe80::a:b"],
    ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"],
  ];
  for (const [text, canon] of cases) expect(formatIP(parseIP(text)!)).toBe(canon);
});

test("what is not an address is refused, in agreement with node:net", () => {
  const bad = ["", "1.2.3", "1.2.3.4.5", "256.0.0.1", "01.2.3.4", "1.2.3.-4", "::1::", "1:2:3:4:5:6:7:8:9", ":1:2", "1::2:", "g::1", "12345::", "fe80::1%eth0", "1.2.3.4/24", " 1.2.3.4"];
  for (const s of bad) expect(parseIP(s)).toBeUndefined();
});

test("a seeded sample of address-like strings: node:net and we agree (zones aside)", () => {
  let seed = 12345;
  const rand = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  const alphabet = "0123456789abcdef:.:.::1";
  let agreedOnAddresses = 0;
  for (let i = 0; i < 20000; i++) {
    let s = "";
    const len = 2 + rand(24);
    for (let j = 0; j < len; j++) s += alphabet[rand(alphabet.length)];
    const ours = parseIP(s)?.family ?? 0;
    expect({ s, family: ours }).toEqual({ s, family: isIP(s) });
    if (ours) agreedOnAddresses++;
  }
  // The sample must contain real addresses, or agreeing on "no" proves little.
  expect(agreedOnAddresses).toBeGreaterThan(20);
});

test("CIDR prefixes: range by family, host bits, containment", () => {
  expect(parseCIDR("10.5.0.2/24")).toBeDefined();
  expect(parseCIDR("10.5.0.2/33")).toBeUndefined();
  expect(parseCIDR("fd00::2/128")).toBeDefined();
  expect(parseCIDR("fd00::2/129")).toBeUndefined();
  expect(parseCIDR("10.5.0.2/024")).toBeUndefined();
  expect(parseCIDR("10.5.0.2")).toBeUndefined();
  expect(hasHostBits(parseCIDR("10.5.0.2/24")!)).toBe(true);
  expect(hasHostBits(parseCIDR("10.5.0.0/24")!)).toBe(false);
  expect(hasHostBits(parseCIDR("::/0")!)).toBe(false);
  expect(contains(parseCIDR("10.5.0.2/24")!, parseIP("10.5.0.200")!)).toBe(true);
  expect(contains(parseCIDR("10.5.0.2/24")!, parseIP("10.5.1.1")!)).toBe(false);
  expect(contains(parseCIDR("fd00::2/64")!, parseIP("10.5.0.1")!)).toBe(false);
  expect(formatCIDR(parseCIDR("FD00::0002/64")!)).toBe("fd00::2/64");
});

test("bad addresses are refused with the text named", () => {
  for (const bad of ["10.0.0", "256.1.1.1", "01.2.3.4", "1::2::3", "1:2:3:4:5:6:7:8:9", "abc", ""]) {
    expect(() => ipOf(bad)).toThrow(`invalid IP address "${bad}"`);
  }
  expect(() => cidrOf("10.0.0.1/33")).toThrow("the prefix length must be 0-32 for IPv4");
  expect(() => cidrOf("10.0.0.1")).toThrow("a prefix length is missing");
});

test("netmasks and network addresses", () => {
  expect(maskToPrefix(Uint8Array.of(255, 255, 240, 0))).toBe(20);
  expect(() => maskToPrefix(Uint8Array.of(255, 0, 255, 0))).toThrow("non-contiguous");
  expect(formatCIDR(networkOf(cidrOf("10.5.7.9/20")))).toBe("10.5.0.0/20");
});
