/**
 * Our link-creation requests against the bytes iproute2 sends for the same command, captured with
 * `strace -e trace=sendmsg -e write=3 ip link add ...` (iproute2 6.1). Compared by meaning: same
 * ifinfomsg, same attributes with the same values, whatever the order, the NLA_F_NESTED flag or
 * a string's trailing NUL (the kernel accepts both spellings).
 */
import { expect, test } from "bun:test";
import { decodeAttrs } from "./message.ts";
import { IFLA, IFLA_INFO } from "./consts.ts";
import { newLinkBody, type NewLinkSpec } from "./link.ts";

const hex = (s: string) => Uint8Array.from(s.trim().split(/\s+/).map((x) => parseInt(x, 16)));

type Tree = { [type: string]: string | Tree };
const NESTED = new Set([`${IFLA.LINKINFO}`, `${IFLA.LINKINFO}/${IFLA_INFO.DATA}`]);
const STRINGS = new Set([`${IFLA.IFNAME}`, `${IFLA.LINKINFO}/${IFLA_INFO.KIND}`]);

function tree(buf: Uint8Array, path = ""): Tree {
  const out: Tree = {};
  for (const [type, data] of decodeAttrs(buf)) {
    const p = path ? `${path}/${type}` : `${type}`;
    if (NESTED.has(p)) out[type] = tree(data, p);
    else if (STRINGS.has(p)) out[type] = new TextDecoder().decode(data).replace(/\0+$/, "");
    else out[type] = Array.from(data, (b) => b.toString(16).padStart(2, "0")).join(" ");
  }
  return out;
}

/** A captured RTM_NEWLINK message: the ifinfomsg, then the attributes. */
function body(msg: Uint8Array) {
  return { ifinfo: Array.from(msg.subarray(16, 32)), attrs: tree(msg.subarray(32)) };
}

const cases: [string, NewLinkSpec, string][] = [
  ["ip link add link lo name lo.100 type vlan id 100", { kind: "vlan", name: "lo.100", parent: 1, vlanId: 100 }, `
    4c 00 00 00 10 00 05 06 f5 3b 07 6b 00 00 00 00  00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
    08 00 05 00 01 00 00 00 0b 00 03 00 6c 6f 2e 31  30 30 00 00 18 00 12 00 08 00 01 00 76 6c 61 6e
    0c 00 02 00 06 00 01 00 64 00 00 00`],
  ["ip link add bond0 type bond mode 802.3ad miimon 100", { kind: "bond", name: "bond0", mode: "802.3ad", miimon: 100 }, `
    4c 00 00 00 10 00 05 06 f5 3b 07 6b 00 00 00 00  00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
    0a 00 03 00 62 6f 6e 64 30 00 00 00 20 00 12 00  08 00 01 00 62 6f 6e 64 14 00 02 00 05 00 01 00
    04 00 00 00 08 00 03 00 64 00 00 00`],
  ["ip link add bond1 type bond mode active-backup", { kind: "bond", name: "bond1", mode: "active-backup" }, `
    44 00 00 00 10 00 05 06 f5 3b 07 6b 00 00 00 00  00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
    0a 00 03 00 62 6f 6e 64 31 00 00 00 18 00 12 00  08 00 01 00 62 6f 6e 64 0c 00 02 00 05 00 01 00
    01 00 00 00`],
];

for (const [cmd, spec, captured] of cases) {
  test(`same request as \`${cmd}\``, () => {
    const theirs = body(hex(captured));
    const ours = newLinkBody(spec);
    expect({ ifinfo: Array.from(ours.subarray(0, 16)), attrs: tree(ours.subarray(16)) }).toEqual(theirs);
  });
}
