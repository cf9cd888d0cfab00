/** rtnetlink against the real kernel, inside network namespaces the tests create, checked with `ip -j`. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Rtnl } from "./rtnl.ts";
import { NetlinkError } from "./socket.ts";
import { inNetns } from "../sys/netns.ts";
import { kernelCanMake, Netns, netnsSkipReason } from "../../test/lib/netns.ts";
import { cidrOf, ipOf } from "../ip/ip.ts";

const hasVlan = kernelCanMake("vlan");
const hasBond = kernelCanMake("bond");

describe.skipIf(netnsSkipReason !== null)(`rtnetlink in a namespace${netnsSkipReason ? ` (skipped: ${netnsSkipReason})` : ""}`, () => {
  let ns: Netns;
  let nl: Rtnl;
  beforeAll(() => {
    ns = new Netns("nl");
    ns.ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth1");
    nl = inNetns(ns.name, () => Rtnl.open());
  });
  afterAll(async () => {
    await nl?.close();
    ns?.delete();
  });

  test("the link list matches ip -j link", async () => {
    const ours = await nl.links();
    const theirs = ns.ipJson<any[]>("link", "show");
    expect(ours.map((l) => [l.index, l.name, l.mtu, l.mac])).toEqual(theirs.map((l) => [l.ifindex, l.ifname, l.mtu, l.address]));
    expect(ours.find((l) => l.name === "eth0")?.kind).toBe("veth");
  });

  test("up/down and MTU are applied", async () => {
    const idx = await nl.linkIndex("eth0");
    await nl.setMtu(idx, 1400, "eth0");
    await nl.setUp(idx, true, "eth0");
    let j = ns.ipJson<any[]>("link", "show", "eth0")[0];
    expect(j.mtu).toBe(1400);
    expect(j.flags).toContain("UP");
    await nl.setUp(idx, false, "eth0");
    j = ns.ipJson<any[]>("link", "show", "eth0")[0];
    expect(j.flags).not.toContain("UP");
  });

  test("IPv4 and IPv6 addresses added and deleted match ip -j addr", async () => {
    const idx = await nl.linkIndex("eth0");
    await nl.setUp(idx, true, "eth0");
    await nl.addAddress({ index: idx, address: ipOf("10.5.0.2"), prefixLen: 24 });
    await nl.addAddress({ index: idx, address: ipOf("fd00::2"), prefixLen: 64 });
    const info = ns.ipJson<any[]>("addr", "show", "dev", "eth0")[0].addr_info.map((a: any) => `${a.local}/${a.prefixlen}`);
    expect(info).toContain("10.5.0.2/24");
    expect(info).toContain("fd00::2/64");
    const ours = (await nl.addresses()).filter((a) => a.index === idx).map((a) => `${a.address}/${a.prefixLen}`);
    expect(ours.sort()).toEqual([...info].sort());
    await nl.deleteAddress({ index: idx, address: ipOf("fd00::2"), prefixLen: 64 });
    expect(ns.ipJson<any[]>("addr", "show", "dev", "eth0")[0].addr_info.map((a: any) => a.local)).not.toContain("fd00::2");
  });

  test("routes: default with a metric, a route in table 100, deletion; the list matches ip -j route", async () => {
    const idx = await nl.linkIndex("eth0");
    await nl.addRoute({ dst: cidrOf("0.0.0.0/0"), gateway: ipOf("10.5.0.1"), priority: 1024 });
    await nl.addRoute({ dst: cidrOf("10.77.0.0/16"), oif: idx, table: 100 });
    const main = ns.ipJson<any[]>("route", "show");
    expect(main).toContainEqual(expect.objectContaining({ dst: "default", gateway: "10.5.0.1", metric: 1024, dev: "eth0", protocol: "static" }));
    expect(ns.ipJson<any[]>("route", "show", "table", "100")).toContainEqual(expect.objectContaining({ dst: "10.77.0.0/16", dev: "eth0", scope: "link" }));
    const ours = await nl.routes(4);
    expect(ours.map((r) => r.dst).sort()).toEqual(main.map((r) => (r.dst === "default" ? "0.0.0.0/0" : r.dst.includes("/") ? r.dst : `${r.dst}/32`)).sort());
    expect((await nl.routes(4, 100)).map((r) => r.dst)).toEqual(["10.77.0.0/16"]);
    await nl.deleteRoute({ dst: cidrOf("0.0.0.0/0"), gateway: ipOf("10.5.0.1"), priority: 1024 });
    expect(ns.ipJson<any[]>("route", "show").find((r) => r.dst === "default")).toBeUndefined();
  });

  test("a bridge is created, a link enslaved and released, the bridge deleted", async () => {
    await nl.createLink({ kind: "bridge", name: "br0" });
    const br = await nl.linkIndex("br0");
    const eth1 = await nl.linkIndex("eth1");
    await nl.setMaster(eth1, br, "eth1");
    expect(ns.ipJson<any[]>("link", "show", "eth1")[0].master).toBe("br0");
    expect((await nl.link("eth1"))?.master).toBe(br);
    expect((await nl.link("br0"))?.kind).toBe("bridge");
    await nl.setMaster(eth1, 0, "eth1");
    expect(ns.ipJson<any[]>("link", "show", "eth1")[0].master).toBeUndefined();
    await nl.deleteLink(br, "br0");
    expect(await nl.link("br0")).toBeUndefined();
  });

  test.skipIf(!hasVlan)(`a VLAN matches ip -j -d link${hasVlan ? "" : " (skipped: this kernel has no 802.1Q VLAN support)"}`, async () => {
    const parent = await nl.linkIndex("eth0");
    await nl.createLink({ kind: "vlan", name: "eth0.100", parent, vlanId: 100 });
    const j = ns.ipJson<any[]>("-d", "link", "show", "eth0.100")[0];
    expect(j.linkinfo.info_kind).toBe("vlan");
    expect(j.linkinfo.info_data.id).toBe(100);
    const ours = await nl.link("eth0.100");
    expect([ours?.kind, ours?.vlanId, ours?.parent]).toEqual(["vlan", 100, parent]);
    await nl.deleteLink(ours!.index, "eth0.100");
  });

  test.skipIf(!hasBond)(`bonds (active-backup, 802.3ad) match ip -j -d link${hasBond ? "" : " (skipped: this kernel has no bonding driver)"}`, async () => {
    for (const mode of ["active-backup", "802.3ad"] as const) {
      await nl.createLink({ kind: "bond", name: "bond0", mode, miimon: 100 });
      const j = ns.ipJson<any[]>("-d", "link", "show", "bond0")[0];
      expect(j.linkinfo.info_data.mode).toBe(mode);
      expect(j.linkinfo.info_data.miimon).toBe(100);
      const ours = await nl.link("bond0");
      expect([ours?.bondMode, ours?.bondMiimon]).toEqual([mode, 100]);
      await nl.deleteLink(ours!.index, "bond0");
    }
  });

  test("kernel refusals become errors naming errno, the kernel's reason and the operation", async () => {
    const err = await nl.addAddress({ index: 9999, address: ipOf("10.1.1.1"), prefixLen: 24 }).catch((e) => e);
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err.message).toBe("add address 10.1.1.1/24 to link #9999: ENODEV (ipv4: Device not found)");
    const dup = await nl.createLink({ kind: "bridge", name: "eth0" }).catch((e) => e);
    expect(dup.message).toStartWith("create bridge link eth0: EEXIST");
  });

  test("many requests issued at once are answered in order, none lost", async () => {
    const all = await Promise.all(Array.from({ length: 50 }, () => nl.links()));
    expect(new Set(all.map((l) => l.length)).size).toBe(1);
  });
});
