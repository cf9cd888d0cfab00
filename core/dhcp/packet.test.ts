import { describe, expect, test } from "bun:test";
import {
  BOOTREPLY, DhcpDecodeError, MSG, OPT, decodeClasslessRoutes, decodePacket, encodeClasslessRoutes, encodePacket, leaseOf, messageType, type DhcpPacket,
} from "./packet.ts";

const mac = Uint8Array.of(2, 0, 0, 0, 0, 1);

/** An ACK assembled byte by byte from RFC 2131's layout, independent of the encoder. */
function handMadeAck(extra: number[] = [], mask = [255, 255, 255, 0]): Uint8Array {
  const b = new Uint8Array(236);
  b.set([2, 1, 6, 0], 0); // op=BOOTREPLY htype=1 hlen=6
  b.set([0xde, 0xad, 0xbe, 0xef], 4); // xid
  b.set([10, 42, 0, 15], 16); // yiaddr
  b.set(mac, 28);
  const opts = [
    99, 130, 83, 99,
    53, 1, 5,
    54, 4, 10, 42, 0, 1,
    51, 4, 0, 0, 0x0e, 0x10, // 3600 s
    1, 4, ...mask,
    3, 4, 10, 42, 0, 1,
    6, 8, 1, 1, 1, 1, 8, 8, 8, 8,
    12, 5, ...new TextEncoder().encode("node1"),
    15, 12, ...new TextEncoder().encode("example.test"),
    26, 2, 0x05, 0xdc,
    121, 12, 16, 10, 99, 10, 42, 0, 1, 0, 10, 42, 0, 1, // 10.99.0.0/16 via .1, default via .1
    ...extra,
    255,
  ];
  return Uint8Array.from([...b, ...opts]);
}

describe("DHCP packets", () => {
  test("a hand-made ACK decodes into the lease it describes", () => {
    const p = decodePacket(handMadeAck());
    expect([p.op, p.xid, messageType(p)]).toEqual([BOOTREPLY, 0xdeadbeef, MSG.ACK]);
    expect(leaseOf(p)).toEqual({
      address: "10.42.0.15", prefixLen: 24, serverId: "10.42.0.1", leaseTime: 3600, t1: 1800, t2: 3150,
      routers: ["10.42.0.1"], dns: ["1.1.1.1", "8.8.8.8"], ntp: [], hostname: "node1", domain: "example.test", mtu: 1500,
      classlessRoutes: [{ dst: "10.99.0.0/16", gateway: "10.42.0.1" }, { dst: "0.0.0.0/0", gateway: "10.42.0.1" }],
    });
  });

  test("explicit T1 and T2 (options 58, 59) win over the defaults", () => {
    const l = leaseOf(decodePacket(handMadeAck([58, 4, 0, 0, 0, 10, 59, 4, 0, 0, 0, 20])));
    expect([l.t1, l.t2]).toEqual([10, 20]);
  });

  test("encode then decode keeps every field, and the frame is at least 300 bytes", () => {
    const p: DhcpPacket = {
      op: 1, xid: 42, secs: 3, flags: 0x8000, ciaddr: "0.0.0.0", yiaddr: "0.0.0.0", siaddr: "0.0.0.0", giaddr: "0.0.0.0", chaddr: mac,
      options: new Map([[OPT.MSG_TYPE, Uint8Array.of(MSG.DISCOVER)], [OPT.HOSTNAME, new TextEncoder().encode("n1")]]),
    };
    const bytes = encodePacket(p);
    expect(bytes.byteLength).toBe(300);
    expect(decodePacket(bytes)).toEqual(p);
  });

  test("an option longer than 255 bytes is split and joined again (RFC 3396)", () => {
    const long = Uint8Array.from({ length: 600 }, (_, i) => i & 0xff);
    const p: DhcpPacket = { op: 1, xid: 1, secs: 0, flags: 0, ciaddr: "0.0.0.0", yiaddr: "0.0.0.0", siaddr: "0.0.0.0", giaddr: "0.0.0.0", chaddr: mac, options: new Map([[OPT.CLIENT_ID, long]]) };
    expect(decodePacket(encodePacket(p)).options.get(OPT.CLIENT_ID)).toEqual(long);
  });

  test("classless static routes round-trip, including /0 and /32", () => {
    const routes = [{ dst: "0.0.0.0/0", gateway: "10.0.0.1" }, { dst: "192.168.7.9/32", gateway: "10.0.0.2" }, { dst: "172.16.0.0/12", gateway: "10.0.0.3" }];
    expect(decodeClasslessRoutes(encodeClasslessRoutes(routes))).toEqual(routes);
  });

  test("malformed packets are DhcpDecodeErrors that say what is wrong", () => {
    expect(() => decodePacket(new Uint8Array(100))).toThrow("shorter than a BOOTP frame");
    const noCookie = handMadeAck();
    noCookie[236] = 0;
    expect(() => decodePacket(noCookie)).toThrow("no DHCP magic cookie");
    const truncated = handMadeAck().subarray(0, 250);
    expect(() => decodePacket(truncated)).toThrow(DhcpDecodeError);
    expect(() => leaseOf(decodePacket(handMadeAck([], [255, 0, 255, 0])))).toThrow("non-contiguous netmask");
  });
});
