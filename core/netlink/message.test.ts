import { describe, expect, test } from "bun:test";
import { decodeAttrs, decodeError, decodeMsgs, encodeAttrs, encodeMsg, attr, get, NetlinkDecodeError } from "./message.ts";
import { NLM_F, NLMSG, RTM } from "./consts.ts";

/** Little-endian byte builders, written apart from the encoder so fixtures check it independently. */
const u16 = (v: number) => [v & 0xff, v >> 8];
const u32 = (v: number) => [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];
const hdr = (len: number, type: number, flags: number, seq: number) => [...u32(len), ...u16(type), ...u16(flags), ...u32(seq), ...u32(0)];

describe("netlink framing", () => {
  test("a link dump request is the 32 bytes iproute2 sends (header + empty ifinfomsg)", () => {
    const got = encodeMsg(RTM.GETLINK, NLM_F.REQUEST | NLM_F.DUMP, 7, new Uint8Array(16));
    expect(Array.from(got)).toEqual([...hdr(32, 18, 0x301, 7), ...new Array(16).fill(0)]);
  });

  test("several messages in one datagram are split at their aligned lengths", () => {
    const a = [...hdr(21, 16, 2, 1), 1, 2, 3, 4, 5, 0, 0, 0]; // 21 bytes, padded to 24
    const b = [...hdr(16, 3, 2, 1)];
    const msgs = decodeMsgs(Uint8Array.from([...a, ...b]));
    expect(msgs.map((m) => [m.type, m.payload.byteLength])).toEqual([[16, 5], [NLMSG.DONE, 0]]);
  });

  test("a length running past the buffer is a decode error, not a crash", () => {
    expect(() => decodeMsgs(Uint8Array.from(hdr(64, 16, 0, 1)))).toThrow(NetlinkDecodeError);
    expect(() => decodeMsgs(Uint8Array.from(hdr(3, 16, 0, 1)))).toThrow("message length 3");
  });

  test("attributes: u32, string and a nested set round-trip with 4-byte padding", () => {
    const enc = encodeAttrs([attr.u32(4, 1500), attr.str(3, "eth0"), attr.nest(18, [attr.str(1, "vlan"), attr.nest(2, [attr.u16(1, 100)])])]);
    expect(Array.from(enc.subarray(0, 8))).toEqual([8, 0, 4, 0, ...u32(1500)]);
    expect(Array.from(enc.subarray(8, 20))).toEqual([9, 0, 3, 0, 101, 116, 104, 48, 0, 0, 0, 0]);
    // The nest carries NLA_F_NESTED (0x8000) in its type.
    expect(Array.from(enc.subarray(22, 24))).toEqual([18, 0x80]);
    const m = decodeAttrs(enc);
    expect(get.u32(m, 4)).toBe(1500);
    expect(get.str(m, 3)).toBe("eth0");
    const info = get.nested(m, 18)!;
    expect(get.str(info, 1)).toBe("vlan");
    expect(get.u16(get.nested(info, 2)!, 1)).toBe(100);
  });

  test("an ACK is NLMSG_ERROR with error 0", () => {
    const [m] = decodeMsgs(Uint8Array.from([...hdr(36, 2, NLM_F.CAPPED, 9), ...u32(0), ...hdr(40, 16, 5, 9)]));
    expect(decodeError(m!)).toEqual({ errno: 0 });
  });

  test("an extended ACK yields the errno and the kernel's message", () => {
    const text = [...new TextEncoder().encode("ipv4: Device not found"), 0]; // 23 bytes
    const tlv = [...u16(4 + text.length), ...u16(1), ...text, 0];
    const body = [...u32(-19 >>> 0), ...hdr(40, 20, 5, 9), ...tlv];
    const [m] = decodeMsgs(Uint8Array.from([...hdr(16 + body.length, 2, NLM_F.CAPPED | NLM_F.ACK_TLVS, 9), ...body]));
    expect(decodeError(m!)).toEqual({ errno: 19, message: "ipv4: Device not found" });
  });
});
