import { describe, expect, test } from "bun:test";
import { parse } from "yaml";
import { mergeLayers, oneRoutePerKernelKey, DEFAULT_RESOLVERS, DEFAULT_TIME_SERVERS } from "./layers.ts";
import { parseIpArg, parseLinkArgs } from "./cmdline.ts";
import { networkConfigOf } from "./config.ts";
import type { Link } from "../../core/netlink/link.ts";
import { cidrOf, ipOf } from "../../core/ip/ip.ts";

const link = (index: number, name: string, carrier: boolean, kind?: string): Link => ({
  index, name, hwType: 1, flags: 0, up: true, carrier, mtu: 1500, mac: `02:00:00:00:00:0${index}`, operState: carrier ? "up" : "down", ...(kind ? { kind } : {}),
});
const links = [{ ...link(1, "lo", true), hwType: 772 }, link(2, "eth0", true), link(3, "eth1", false), link(4, "br0", true, "bridge")];
const none = new Map();

describe("kernel cmdline ip=", () => {
  test("the nfsroot form gives a static address, gateway, hostname, device, DNS and NTP", () => {
    expect(parseIpArg("console=ttyS0 ip=10.5.0.2:10.5.0.1:10.5.0.1:255.255.255.0:node1:eth1:off:1.1.1.1:9.9.9.9:10.5.0.1 quiet")).toEqual({
      address: cidrOf("10.5.0.2/24"), gateway: ipOf("10.5.0.1"), hostname: "node1", device: "eth1", dns: ["1.1.1.1", "9.9.9.9"], ntp: ["10.5.0.1"],
    });
  });
  test("ip=dhcp, ip=off, device-only DHCP, absence, and the last ip= wins", () => {
    expect(parseIpArg("ip=dhcp")).toEqual({ dhcpAll: true, dns: [], ntp: [] });
    expect(parseIpArg("ip=none")).toEqual({ off: true, dns: [], ntp: [] });
    expect(parseIpArg(":::::eth1:dhcp".replace(/^/, "ip="))).toEqual({ device: "eth1", dhcp: true, dns: [], ntp: [] });
    expect(parseIpArg("console=ttyS0")).toBeUndefined();
    expect(parseIpArg("ip=off ip=dhcp")?.dhcpAll).toBe(true);
  });
  test("a bad address is an error naming the field", () => {
    expect(() => parseIpArg("ip=10.5.0.300::10.5.0.1:255.255.255.0")).toThrow('kernel command line ip=10.5.0.300::10.5.0.1:255.255.255.0: client-ip "10.5.0.300" is not an IP address');
  });
});

describe("kernel cmdline bond= and vlan= (dracut's syntax)", () => {
  test("the full forms, dracut's defaults, numeric modes and the four VLAN name forms", () => {
    expect(parseLinkArgs("console=ttyS0 bond=bond0:eth0,eth1:mode=802.3ad,miimon=100:9000 vlan=bond0.100:bond0")).toEqual({
      bonds: [{ name: "bond0", members: ["eth0", "eth1"], mode: "802.3ad", miimon: 100, mtu: 9000 }],
      vlans: [{ name: "bond0.100", parent: "bond0", id: 100 }],
      warnings: [],
    });
    expect(parseLinkArgs("bond=").bonds).toEqual([{ name: "bond0", members: ["eth0", "eth1"], mode: "balance-rr" }]);
    expect(parseLinkArgs("bond=bond1:eth2:mode=1").bonds[0]!.mode).toBe("active-backup");
    expect(parseLinkArgs("vlan=vlan0005:eth0 vlan=vlan6:eth0 vlan=eth1.0007:eth1 vlan=eth1.8:eth1").vlans.map((v) => v.id)).toEqual([5, 6, 7, 8]);
    expect(parseLinkArgs("quiet")).toEqual({ bonds: [], vlans: [], warnings: [] });
  });
  test("an option we do not set is a warning, not a lost network; bad words are errors naming the word", () => {
    expect(parseLinkArgs("bond=bond0:eth0,eth1:mode=802.3ad,xmit_hash_policy=layer3+4").warnings).toEqual([
      "kernel command line bond=bond0:eth0,eth1:mode=802.3ad,xmit_hash_policy=layer3+4: option xmit_hash_policy is not supported (mode and miimon are); the kernel's default applies",
    ]);
    expect(() => parseLinkArgs("bond=bond0:eth0:mode=fast")).toThrow('kernel command line bond=bond0:eth0:mode=fast: mode "fast" is not one of balance-rr, active-backup, balance-xor, broadcast, 802.3ad, balance-tlb, balance-alb (or 0-6)');
    expect(() => parseLinkArgs("bond=bond0:eth0::20")).toThrow('kernel command line bond=bond0:eth0::20: MTU "20" is not a number from 68 to 65535');
    expect(() => parseLinkArgs("vlan=eth0.5000:eth0")).toThrow("kernel command line vlan=eth0.5000:eth0: VLAN id 5000 is outside 1-4094");
    expect(() => parseLinkArgs("vlan=mgmt:eth0")).toThrow('kernel command line vlan=mgmt:eth0: cannot read a VLAN id from the name "mgmt": name it vlan<ID> or <parent>.<ID>');
    expect(() => parseLinkArgs("vlan=eth0.5")).toThrow("kernel command line vlan=eth0.5: expected vlan=<name>:<parent link>, e.g. vlan=eth0.100:eth0");
    expect(() => parseLinkArgs("bond=bond0.5:eth0 vlan=bond0.5:eth1")).toThrow("kernel command line vlan=bond0.5:eth1: a link named bond0.5 is already defined by an earlier bond= or vlan=");
  });
  test("layered: the bond takes its members out of the defaults, ip= puts a static address on the VLAN over it, the config replaces a cmdline link by name", () => {
    const all = [...links, link(5, "eth2", true)];
    const cmdline = "bond=bond0:eth0,eth2:mode=active-backup vlan=bond0.7:bond0 ip=10.7.0.2::10.7.0.1:255.255.255.0::bond0.7:none";
    const s = mergeLayers({ links: all, leases: none, cmdline: parseIpArg(cmdline)!, cmdlineLinks: parseLinkArgs(cmdline) });
    expect(s.links).toEqual(expect.arrayContaining([
      // ip= names the VLAN: that one device only, as in dracut; the bond gets no DHCP of its own.
      { name: "bond0", layer: "cmdline", kind: "bond", dhcp: false, bond: { mode: "active-backup", members: ["eth0", "eth2"] } },
      { name: "bond0.7", layer: "cmdline", kind: "vlan", dhcp: false, vlan: { parent: "bond0", id: 7 } },
    ]));
    expect(s.links.map((l) => l.name)).not.toContain("eth0");
    expect(s.links.map((l) => l.name)).not.toContain("eth2");
    expect(s.addresses).toEqual([{ link: "bond0.7", address: cidrOf("10.7.0.2/24"), layer: "cmdline" }]);
    expect(s.routes).toEqual([expect.objectContaining({ link: "bond0.7", dst: cidrOf("0.0.0.0/0"), gateway: ipOf("10.7.0.1") })]);
    const config = networkConfigOf(parse("network:\n  interfaces:\n    - {interface: bond0, bond: {interfaces: [eth0, eth2], mode: 802.3ad}, dhcp: false, addresses: [10.8.0.2/24]}\n"));
    const withConfig = mergeLayers({ links: all, leases: none, cmdline: parseIpArg(cmdline)!, cmdlineLinks: parseLinkArgs(cmdline), config });
    expect(withConfig.links.find((l) => l.name === "bond0")).toMatchObject({ layer: "config", bond: { mode: "802.3ad" }, dhcp: false });
    const off = mergeLayers({ links: all, leases: none, cmdline: parseIpArg("ip=off")!, cmdlineLinks: parseLinkArgs("bond=bond0:eth0,eth2") });
    expect(off.links.find((l) => l.name === "bond0")?.dhcp).toBe(false);
    // No ip= at all: the bond is how the node reaches the network, so it asks DHCP.
    const bare = mergeLayers({ links: all, leases: none, cmdlineLinks: parseLinkArgs("bond=bond0:eth0,eth2") });
    expect(bare.links.find((l) => l.name === "bond0")?.dhcp).toBe(true);
    expect(bare.links.find((l) => l.name === "eth1")).toMatchObject({ layer: "default" });
  });
});

describe("one route per kernel key (destination, table, metric)", () => {
  const r = (link: string, gateway: string, layer: "default" | "cmdline" | "dhcp" | "config", metric = 1024) => ({ link, dst: cidrOf("0.0.0.0/0"), gateway: ipOf(gateway), metric, table: 254, layer });
  test("across layers the higher wins; within a layer the later route takes the next free metric; the same route twice is one", () => {
    expect(oneRoutePerKernelKey([r("eth0", "10.0.2.2", "dhcp"), r("eth1", "10.7.0.1", "config")])).toEqual([r("eth1", "10.7.0.1", "config")]);
    // eth1's 1024 is taken and 1025 is eth2's own: it gets 1026.
    expect(oneRoutePerKernelKey([r("eth0", "10.0.2.2", "dhcp"), r("eth1", "10.1.0.1", "dhcp"), r("eth2", "10.2.0.1", "dhcp", 1025)])).toEqual([
      r("eth0", "10.0.2.2", "dhcp"), r("eth1", "10.1.0.1", "dhcp", 1026), r("eth2", "10.2.0.1", "dhcp", 1025),
    ]);
    expect(oneRoutePerKernelKey([r("eth0", "10.0.2.2", "config"), r("eth0", "10.0.2.2", "config")])).toEqual([r("eth0", "10.0.2.2", "config")]);
    // Another table or another destination is another key.
    const other = { ...r("eth1", "10.1.0.1", "dhcp"), table: 100 };
    expect(oneRoutePerKernelKey([r("eth0", "10.0.2.2", "dhcp"), other])).toEqual([r("eth0", "10.0.2.2", "dhcp"), other]);
  });
});

describe("layers", () => {
  test("defaults: DHCP on physical links with carrier only; default resolvers and a MAC-derived hostname", () => {
    const s = mergeLayers({ links, leases: none });
    expect(s.links).toEqual([
      { name: "eth0", layer: "default", kind: "physical", dhcp: true },
      { name: "eth1", layer: "default", kind: "physical", dhcp: false },
    ]);
    expect(s.resolvers).toEqual({ servers: DEFAULT_RESOLVERS, search: [], layer: "default" });
    expect(s.hostname).toEqual({ hostname: "bunker-000002", layer: "default" });
  });

  test("cmdline over defaults: a static address on one device, no default DHCP", () => {
    const s = mergeLayers({ links, leases: none, cmdline: parseIpArg("ip=10.5.0.2::10.5.0.1:255.255.0.0:n1:eth0:off:10.5.0.53")! });
    expect(s.links).toEqual([{ name: "eth0", layer: "cmdline", kind: "physical", dhcp: false }]);
    expect(s.addresses).toEqual([{ link: "eth0", address: cidrOf("10.5.0.2/16"), layer: "cmdline" }]);
    expect(s.routes).toEqual([{ link: "eth0", dst: cidrOf("0.0.0.0/0"), gateway: ipOf("10.5.0.1"), metric: 1024, table: 254, layer: "cmdline" }]);
    expect(s.resolvers.servers).toEqual(["10.5.0.53"]);
    expect(s.hostname).toEqual({ hostname: "n1", layer: "cmdline" });
  });

  test("machine config over cmdline for the same link; bonds take their members; VLANs are named parent.id", () => {
    const config = networkConfigOf(parse(`
machine:
  network:
    interfaces:
      - {interface: eth0, addresses: [10.9.0.2/24]}
      - interface: bond0
        bond: {interfaces: [eth1], mode: 802.3ad, miimon: 100}
        vlans: [{vlanId: 42, addresses: [10.42.0.2/24], routes: [{network: 10.99.0.0/16, gateway: 10.42.0.1}]}]
`).machine);
    const s = mergeLayers({ links, leases: none, config, cmdline: parseIpArg("ip=10.5.0.2::10.5.0.1:255.255.0.0::eth0:off")! });
    expect(s.addresses).toEqual([
      { link: "eth0", address: cidrOf("10.9.0.2/24"), layer: "config" },
      { link: "bond0.42", address: cidrOf("10.42.0.2/24"), layer: "config" },
    ]);
    expect(s.routes).toEqual([{ link: "bond0.42", dst: cidrOf("10.99.0.0/16"), gateway: ipOf("10.42.0.1"), metric: 1024, table: 254, layer: "config" }]);
    expect(s.links.map((l) => [l.name, l.kind, l.layer])).toEqual([["eth0", "physical", "config"], ["bond0", "bond", "config"], ["bond0.42", "vlan", "config"]]);
    expect(s.links.find((l) => l.name === "bond0")!.bond).toEqual({ mode: "802.3ad", miimon: 100, members: ["eth1"] });
  });

  test("a DHCP lease gives address, classless routes (over the router option), MTU, resolvers, search, time servers", () => {
    const lease = {
      address: "10.44.0.12", prefixLen: 24, serverId: "10.44.0.1", leaseTime: 600, t1: 300, t2: 525, routers: ["10.44.0.254"], dns: ["10.44.0.53"], ntp: ["10.44.0.1"],
      domain: "lab.test", hostname: "dhcpname", mtu: 1450, classlessRoutes: [{ dst: "0.0.0.0/0", gateway: "10.44.0.1" }, { dst: "10.44.1.0/24", gateway: "0.0.0.0" }], remaining: 590,
    };
    const s = mergeLayers({ links, leases: new Map([["eth0", lease]]) });
    expect(s.addresses).toEqual([{ link: "eth0", address: cidrOf("10.44.0.12/24"), layer: "dhcp", validLifetime: 590 }]);
    expect(s.routes).toEqual([
      { link: "eth0", dst: cidrOf("0.0.0.0/0"), gateway: ipOf("10.44.0.1"), metric: 1024, table: 254, layer: "dhcp" },
      { link: "eth0", dst: cidrOf("10.44.1.0/24"), metric: 1024, table: 254, layer: "dhcp" },
    ]);
    expect(s.links.find((l) => l.name === "eth0")!.mtu).toBe(1450);
    expect([s.resolvers.servers, s.resolvers.search, s.timeServers.servers]).toEqual([["10.44.0.53"], ["lab.test"], ["10.44.0.1"]]);
    expect(s.hostname).toEqual({ hostname: "dhcpname", domain: "lab.test", layer: "dhcp" });
  });

  test("ignored links are left out even by the defaults", () => {
    const config = networkConfigOf(parse("machine:\n  network:\n    interfaces: [{interface: eth0, ignore: true}]\n").machine);
    const s = mergeLayers({ links, leases: none, config });
    expect(s.links).toEqual([{ name: "eth1", layer: "default", kind: "physical", dhcp: false }]);
    expect(s.ignored).toEqual(["eth0"]);
  });

  test("time servers: omitted, DHCP's win (else networkd's default); servers written in the config win over DHCP, whatever they are", () => {
    const lease = { address: "10.44.0.12", prefixLen: 24, serverId: "10.44.0.1", leaseTime: 600, t1: 300, t2: 525, routers: [], dns: [], ntp: ["10.44.0.1"], classlessRoutes: [], remaining: 590 };
    const leases = new Map([["eth0", lease]]);
    const dhcpOn = (time: string) => networkConfigOf(parse(`machine:\n  network:\n    interfaces: [{interface: eth0, dhcp: true}]\n${time}`).machine);
    expect(mergeLayers({ links, leases, config: dhcpOn("") }).timeServers).toEqual({ servers: ["10.44.0.1"], layer: "dhcp" });
    expect(mergeLayers({ links, leases, config: dhcpOn("  time: {servers: [ntp.example]}\n") }).timeServers).toEqual({ servers: ["ntp.example"], layer: "config" });
    expect(mergeLayers({ links, leases: none, config: dhcpOn("") }).timeServers).toEqual({ servers: DEFAULT_TIME_SERVERS, layer: "default" });
    // The operator who writes the default's own value on purpose still wins over DHCP (#14).
    expect(mergeLayers({ links, leases, config: dhcpOn("  time: {servers: [pool.ntp.org]}\n") }).timeServers).toEqual({ servers: ["pool.ntp.org"], layer: "config" });
    expect(dhcpOn("  time: {bootTimeout: 1m30s}\n").time.bootTimeoutMs).toBe(90_000);
  });
});
