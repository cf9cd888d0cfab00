import { describe, expect, test } from "bun:test";
import { decodeLink, newLinkBody, setLinkBody } from "./link.ts";
import { addressBody, decodeAddress } from "./addr.ts";
import { decodeRoute, routeBody } from "./route.ts";
import { IFF } from "./consts.ts";
import { cidrOf, ipOf } from "../ip/ip.ts";

const u16 = (v: number) => [v & 0xff, v >> 8];
const u32 = (v: number) => [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];
const rta = (type: number, data: number[]) => {
  const len = 4 + data.length;
  return [...u16(len), ...u16(type), ...data, ...new Array((4 - (len % 4)) % 4).fill(0)];
};
const str = (s: string) => [...new TextEncoder().encode(s), 0];

describe("link messages (struct ifinfomsg + IFLA_*)", () => {
  test("a VLAN link as the kernel reports it", () => {
    const ifi = [0, 0, ...u16(1), ...u32(5), ...u32(IFF.UP | IFF.LOWER_UP | IFF.BROADCAST), ...u32(0)];
    const info = rta(18 | 0x8000, [...rta(1, str("vlan")), ...rta(2 | 0x8000, rta(1, u16(100)))]);
    const bytes = Uint8Array.from([...ifi, ...rta(3, str("eth0.100")), ...rta(4, u32(1400)), ...rta(1, [2, 0, 0, 0, 0, 0xab]), ...rta(16, [6]), ...rta(5, u32(2)), ...info]);
    expect(decodeLink(bytes)).toEqual({
      index: 5, name: "eth0.100", hwType: 1, flags: IFF.UP | IFF.LOWER_UP | IFF.BROADCAST, up: true, carrier: true,
      mtu: 1400, mac: "02:00:00:00:00:ab", operState: "up", parent: 2, kind: "vlan", vlanId: 100,
    });
  });

  test("hardware addresses of IP tunnels read as IP addresses, as iproute2 shows them", () => {
    const sit = [0, 0, ...u16(776), ...u32(7), ...u32(0), ...u32(0)];
    expect(decodeLink(Uint8Array.from([...sit, ...rta(3, str("sit0")), ...rta(1, [0, 0, 0, 0])])).mac).toBe("0.0.0.0");
    const gre6 = [0, 0, ...u16(823), ...u32(8), ...u32(0), ...u32(0)];
    expect(decodeLink(Uint8Array.from([...gre6, ...rta(1, [0xfd, 0, ...new Array(13).fill(0), 1])])).mac).toBe("fd00::1");
    // Four bytes on an Ethernet-typed link are still hex.
    expect(decodeLink(Uint8Array.from([0, 0, ...u16(1), ...u32(9), ...u32(0), ...u32(0), ...rta(1, [0, 0, 0, 1])])).mac).toBe("00:00:00:01");
  });

  test("set up + MTU: flags/change masks IFF_UP and IFLA_MTU follows", () => {
    const b = setLinkBody(3, { up: true, mtu: 9000 });
    expect(Array.from(b)).toEqual([0, 0, 0, 0, ...u32(3), ...u32(1), ...u32(1), ...rta(4, u32(9000))]);
  });

  test("a bond in 802.3ad with miimon", () => {
    const b = newLinkBody({ kind: "bond", name: "bond0", mode: "802.3ad", miimon: 100 });
    const expected = [...new Array(16).fill(0), ...rta(3, str("bond0")),
      ...rta(18 | 0x8000, [...rta(1, str("bond")), ...rta(2 | 0x8000, [...rta(1, [4]), ...rta(3, u32(100))])])];
    expect(Array.from(b)).toEqual(expected);
  });

  test("a VLAN on parent 2 with id 42", () => {
    const b = newLinkBody({ kind: "vlan", name: "eth0.42", parent: 2, vlanId: 42 });
    const expected = [...new Array(16).fill(0), ...rta(3, str("eth0.42")), ...rta(5, u32(2)),
      ...rta(18 | 0x8000, [...rta(1, str("vlan")), ...rta(2 | 0x8000, rta(1, u16(42)))])];
    expect(Array.from(b)).toEqual(expected);
  });
});

describe("address messages (struct ifaddrmsg + IFA_*)", () => {
  test("an IPv4 /24 carries local, address and broadcast", () => {
    const b = addressBody({ index: 2, address: ipOf("10.5.0.2"), prefixLen: 24 });
    expect(Array.from(b)).toEqual([2, 24, 0, 0, ...u32(2), ...rta(2, [10, 5, 0, 2]), ...rta(1, [10, 5, 0, 2]), ...rta(4, [10, 5, 0, 255])]);
  });

  test("decode an IPv6 address with lifetimes", () => {
    const ip = [0xfd, 0, ...new Array(13).fill(0), 2];
    const bytes = Uint8Array.from([10, 64, 0x80, 0, ...u32(4), ...rta(1, ip), ...rta(6, [...u32(300), ...u32(600), ...u32(0), ...u32(0)])]);
    expect(decodeAddress(bytes)).toEqual({ index: 4, family: 6, address: "fd00::2", prefixLen: 64, scope: 0, flags: 0x80, validLifetime: 600, preferredLifetime: 300 });
  });
});

describe("route messages (struct rtmsg + RTA_*)", () => {
  test("a default route via a gateway with a metric in the main table", () => {
    const b = routeBody({ dst: cidrOf("0.0.0.0/0"), gateway: ipOf("10.5.0.1"), priority: 1024 });
    expect(Array.from(b)).toEqual([2, 0, 0, 0, 254, 4, 0, 1, ...u32(0), ...rta(15, u32(254)), ...rta(5, [10, 5, 0, 1]), ...rta(6, u32(1024))]);
  });

  test("an on-link route in table 100 is scope link", () => {
    const b = routeBody({ dst: cidrOf("10.77.0.0/16"), oif: 3, table: 100 });
    expect(Array.from(b)).toEqual([2, 16, 0, 0, 100, 4, 253, 1, ...u32(0), ...rta(15, u32(100)), ...rta(1, [10, 77, 0, 0]), ...rta(4, u32(3))]);
  });

  test("decode: a route without RTA_DST is the default route", () => {
    const bytes = Uint8Array.from([2, 0, 0, 0, 254, 16, 0, 1, ...u32(0), ...rta(15, u32(254)), ...rta(5, [192, 168, 1, 1]), ...rta(4, u32(2)), ...rta(6, u32(100))]);
    expect(decodeRoute(bytes)).toEqual({ family: 4, dst: "0.0.0.0/0", gateway: "192.168.1.1", oif: 2, priority: 100, table: 254, protocol: 16, scope: 0, type: 1 });
  });

  test("a gateway of the other family is refused with the route named", () => {
    expect(() => routeBody({ dst: cidrOf("0.0.0.0/0"), gateway: ipOf("fd00::1") })).toThrow("route 0.0.0.0/0: gateway fd00::1 is not the same IP family");
  });
});
