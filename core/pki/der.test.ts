import { describe, expect, test } from "bun:test";
import {
  bool, DerError, int, namedBits, octets, oid, parse, readBool, readInt, readNamedBits, readOid, readString, readTime, seq, seqOf, set, time, utf8,
} from "./der.ts";
import { formatIP, ipOf } from "../ip/ip.ts";

const h = (b: Uint8Array) => Buffer.from(b).toString("hex");
const b = (hex: string) => new Uint8Array(Buffer.from(hex.replace(/\s/g, ""), "hex"));

describe("DER writer: byte fixtures (values from X.690 and RFC 5280 examples)", () => {
  test("INTEGER is minimal two's complement", () => {
    const cases: [bigint | number, string][] = [
      [0, "020100"], [127, "02017f"], [128, "02020080"], [256, "02020100"],
      [-1, "0201ff"], [-128, "020180"], [-129, "0202ff7f"], [0x7fffffffffffffffn, "02087fffffffffffffff"],
    ];
    for (const [v, hex] of cases) expect({ v: String(v), der: h(int(v)) }).toEqual({ v: String(v), der: hex });
  });
  test("INTEGER from unsigned bytes gets a 0x00 when the top bit is set, loses leading zeros", () => {
    expect(h(int(b("80")))).toBe("02020080");
    expect(h(int(b("00007f")))).toBe("02017f");
  });
  test("OBJECT IDENTIFIER", () => {
    expect(h(oid("1.2.840.113549"))).toBe("06062a864886f70d");
    expect(h(oid("1.3.101.112"))).toBe("06032b6570");
    expect(h(oid("2.5.29.19"))).toBe("0603551d13");
    expect(() => oid("1.x")).toThrow(DerError);
    expect(() => oid("3.1")).toThrow(DerError);
  });
  test("named BIT STRING drops trailing zero bits (keyUsage)", () => {
    expect(h(namedBits([0]))).toBe("03020780"); // digitalSignature
    expect(h(namedBits([0, 5, 6]))).toBe("03020186"); // + keyCertSign, cRLSign
    expect(h(namedBits([0, 2]))).toBe("030205a0"); // + keyEncipherment
    expect(h(namedBits([8]))).toBe("0303070080"); // decipherOnly spills into a second byte
  });
  test("UTCTime up to 2049, GeneralizedTime from 2050", () => {
    expect(Buffer.from(time(new Date("2026-11-25T19:21:54.999Z"))).toString("latin1")).toBe("\x17\x0d261125192154Z");
    expect(Buffer.from(time(new Date("2050-01-01T00:00:00Z"))).toString("latin1")).toBe("\x18\x0f20500101000000Z");
  });
  test("long lengths use the minimal long form", () => {
    expect(h(octets(new Uint8Array(200)).subarray(0, 3))).toBe("0481c8");
    expect(h(octets(new Uint8Array(300)).subarray(0, 4))).toBe("0482012c");
    expect(h(octets(new Uint8Array(127)).subarray(0, 2))).toBe("047f");
  });
  test("SET OF is sorted by encoding; BOOLEAN true is FF", () => {
    expect(h(set(int(2), int(1)))).toBe("3106020101020102");
    expect(h(bool(true))).toBe("0101ff");
    expect(h(seq(utf8("a"), bool(false)))).toBe("30060c0161010100");
  });
});

describe("DER reader", () => {
  test("reads back what the writer wrote", () => {
    const values = [0n, 1n, -1n, 127n, 128n, -129n, 2n ** 127n - 1n, -(2n ** 100n)];
    for (const v of values) expect(readInt(parse(int(v)), "x")).toBe(v);
    for (const o of ["1.2.840.113549.1.9.14", "2.5.4.3", "2.999.3"]) expect(readOid(parse(oid(o)), "x")).toBe(o);
    expect(readNamedBits(parse(namedBits([0, 5, 6])), "x")).toEqual([0, 5, 6]);
    expect(readBool(parse(bool(true)), "x")).toBe(true);
    expect(readString(parse(utf8("os:admin ü")), "x")).toBe("os:admin ü");
    const d = new Date("2061-03-04T05:06:07Z");
    expect(readTime(parse(time(d)), "x").getTime()).toBe(d.getTime());
    const nested = seqOf(parse(seq(int(1), seq(oid("1.2.3")), octets(b("0102")))), "outer");
    expect(nested.map((n) => n.tag)).toEqual([0x02, 0x30, 0x04]);
    expect(nested[1]!.offset).toBe(5);
  });
  test("rejects what is not DER, naming the offset", () => {
    const bad: [string, RegExp][] = [
      ["3080", /indefinite length/],
      ["048105" + "00".repeat(5), /not minimally encoded/],
      ["020100ff", /1 trailing bytes/],
      ["0405aabb", /runs past the end/],
      ["02", /end of data/],
      ["1f01", /multi-byte tag/],
    ];
    for (const [hex, re] of bad) expect(() => parse(b(hex))).toThrow(re);
    expect(() => readInt(parse(b("02020001")), "serial")).toThrow(/serial: INTEGER not minimally encoded/);
    expect(() => readBool(parse(b("010101")), "critical")).toThrow(/critical: BOOLEAN/);
    expect(() => readTime(parse(b("170d3236313332353139323135345a")), "notAfter")).toThrow(/notAfter: no such date/);
    expect(() => readOid(parse(b("0603550480")), "type")).toThrow(/truncated OID/);
    // An error deep inside names its offset in the outermost buffer.
    const inner = seqOf(parse(b("3006300402010004")), "outer")[0];
    expect(() => seqOf(inner, "inner")).toThrow("DER: unexpected end of data (length expected) at byte 7");
  });
});

describe("IP addresses for iPAddress names", () => {
  test("v4 and v6 to bytes and back (RFC 5952 text)", () => {
    const cases: [string, string, string][] = [
      ["10.5.0.2", "0a050002", "10.5.0.2"],
      ["fd00::2", "fd000000000000000000000000000002", "fd00::2"],
      ["::1", "00000000000000000000000000000001", "::1"],
      ["::", "00000000000000000000000000000000", "::"],
      ["2001:db8:0:0:1:0:0:1", "20010db8000000000001000000000001", "2001:db8::1:0:0:1"],
      ["::ffff:1.2.3.4", "00000000000000000000ffff01020304", "::ffff:1.2.3.4"],
      ["2001:db8:1:2:3:4:5:6", "20010db8000100020003000400050006", "2001:db8:1:2:3:4:5:6"],
    ];
    for (const [text, hex, back] of cases) {
      expect({ text, hex: h(ipOf(text).bytes) }).toEqual({ text, hex });
      expect(formatIP(b(hex))).toBe(back);
    }
    expect(() => ipOf("node1")).toThrow('invalid IP address "node1"');
  });
});
