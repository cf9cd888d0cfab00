/** A bounded fuzz of the decoders that read untrusted bytes: only their own decode errors may escape. */
import { expect, test } from "bun:test";
import { DhcpDecodeError, decodePacket, encodePacket, leaseOf, MSG, OPT } from "./packet.ts";
import { decodeMsgs, decodeAttrs, NetlinkDecodeError } from "../netlink/message.ts";
import { decodeLink } from "../netlink/link.ts";
import { decodeAddress } from "../netlink/addr.ts";
import { decodeRoute } from "../netlink/route.ts";
import { AddressError } from "../ip/ip.ts";

/** A small deterministic PRNG (xorshift32), so a failure can be replayed from its seed. */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s;
  };
}

function mutate(base: Uint8Array, r: () => number): Uint8Array {
  const b = new Uint8Array(base);
  const kind = r() % 3;
  if (kind === 0) for (let i = 0, n = 1 + (r() % 8); i < n; i++) b[r() % b.length] = r() & 0xff;
  if (kind === 1) return b.subarray(0, r() % (b.length + 1));
  if (kind === 2) for (let i = 0; i < b.length; i++) if (r() % 16 === 0) b[i] = r() & 0xff;
  return b;
}

const ITERATIONS = 20000;

test("DHCP decoder: mutated ACKs never throw anything but DhcpDecodeError", () => {
  const base = encodePacket({
    op: 2, xid: 7, secs: 0, flags: 0, ciaddr: "0.0.0.0", yiaddr: "10.0.0.5", siaddr: "0.0.0.0", giaddr: "0.0.0.0", chaddr: Uint8Array.of(2, 0, 0, 0, 0, 1),
    options: new Map([
      [OPT.MSG_TYPE, Uint8Array.of(MSG.ACK)], [OPT.SERVER_ID, Uint8Array.of(10, 0, 0, 1)], [OPT.LEASE_TIME, Uint8Array.of(0, 0, 1, 0)],
      [OPT.SUBNET_MASK, Uint8Array.of(255, 255, 255, 0)], [OPT.ROUTER, Uint8Array.of(10, 0, 0, 1)], [OPT.DNS, Uint8Array.of(1, 1, 1, 1)],
      [OPT.CLASSLESS_ROUTES, Uint8Array.of(24, 10, 9, 9, 10, 0, 0, 1)], [OPT.MTU, Uint8Array.of(5, 0xdc)], [OPT.OVERLOAD, Uint8Array.of(3)],
    ]),
  });
  const r = rng(0xb0b);
  let malformed = 0, ok = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const input = mutate(base, r);
    try {
      leaseOf(decodePacket(input));
      ok++;
    } catch (e) {
      if (!(e instanceof DhcpDecodeError)) throw new Error(`iteration ${i}: ${String(e)}`);
      malformed++;
    }
  }
  expect(malformed + ok).toBe(ITERATIONS);
  expect(malformed).toBeGreaterThan(0);
  expect(ok).toBeGreaterThan(0);
});

test("netlink decoders: mutated messages never throw anything but NetlinkDecodeError", () => {
  // A link message as the kernel sends it, framed in a 16-byte header.
  const body = Uint8Array.from([0, 0, 1, 0, 2, 0, 0, 0, 0x43, 0x10, 1, 0, 0, 0, 0, 0,
    9, 0, 3, 0, 101, 116, 104, 48, 0, 0, 0, 0, 8, 0, 4, 0, 0xdc, 5, 0, 0,
    24, 0, 18, 0x80, 9, 0, 1, 0, 118, 108, 97, 110, 0, 0, 0, 0, 8, 0, 2, 0x80, 6, 0, 1, 0, 100, 0, 0, 0]);
  const msg = new Uint8Array(16 + body.length);
  new DataView(msg.buffer).setUint32(0, msg.length, true);
  msg[4] = 16;
  msg.set(body, 16);
  const r = rng(0x5eed);
  let bad = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const input = mutate(msg, r);
    for (const decode of [decodeLink, decodeAddress, decodeRoute, decodeAttrs]) {
      try {
        for (const m of decodeMsgs(input)) decode(m.payload);
      } catch (e) {
        if (!(e instanceof NetlinkDecodeError) && !(e instanceof AddressError)) throw new Error(`iteration ${i} ${decode.name}: ${String(e)}`);
        bad++;
      }
    }
  }
  expect(bad).toBeGreaterThan(0);
});
