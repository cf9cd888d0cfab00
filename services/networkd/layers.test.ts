import { describe, expect, test } from "bun:test";
import { parse } from "yaml";
import { mergeLayers, DEFAULT_RESOLVERS, DEFAULT_TIME_SERVERS } from "./layers.ts";
import { parseIpArg } from "./cmdline.ts";
import { networkConfigOf } from "./config.ts";
import type { Link } from "../../core/netlink/link.ts";

const link = (index: number, name: string, carrier: boolean, kind?: string): Link => ({
  index, name, hwType: 1, flags: 0, up: true, carrier, mtu: 1500, mac: `02:00:00:00:00:0${index}`, operState: carrier ? "up" : "down", ...(kind ? { kind } : {}),
});
const links = [{ ...link(1, "lo", true), hwType: 772 }, link(2, "eth0", true), link(3, "eth1", false), link(4, "br0", true, "bridge")];
const none = new Map();

describe("kernel cmdline ip=", () => {
  test("the nfsroot form gives a static address, gateway, hostname, device, DNS and NTP", () => {
    expect(parseIpArg("console=ttyS0 ip=10.5.0.2:10.5.0.1:10.5.0.1:255.255.255.0:node1:eth1:off:1.1.1.1:9.9.9.9:10.5.0.1 quiet")).toEqual({
      address: "10.5.0.2/24", gateway: "10.5.0.1", hostname: "node1", device: "eth1", dns: ["1.1.1.1", "9.9.9.9"], ntp: ["10.5.0.1"],
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
    expect(s.addresses).toEqual([{ link: "eth0", address: "10.5.0.2/16", layer: "cmdline" }]);
    expect(s.routes).toEqual([{ link: "eth0", dst: "0.0.0.0/0", gateway: "10.5.0.1", metric: 1024, table: 254, layer: "cmdline" }]);
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
      { link: "eth0", address: "10.9.0.2/24", layer: "config" },
      { link: "bond0.42", address: "10.42.0.2/24", layer: "config" },
    ]);
    expect(s.routes).toEqual([{ link: "bond0.42", dst: "10.99.0.0/16", gateway: "10.42.0.1", metric: 1024, table: 254, layer: "config" }]);
    expect(s.links.map((l) => [l.name, l.kind, l.layer])).toEqual([["eth0", "physical", "config"], ["bond0", "bond", "config"], ["bond0.42", "vlan", "config"]]);
    expect(s.links.find((l) => l.name === "bond0")!.bond).toEqual({ mode: "802.3ad", miimon: 100, members: ["eth1"] });
  });

  test("a DHCP lease gives address, classless routes (over the router option), MTU, resolvers, search, time servers", () => {
    const lease = {
      address: "10.44.0.12", prefixLen: 24, serverId: "10.44.0.1", leaseTime: 600, t1: 300, t2: 525, routers: ["10.44.0.254"], dns: ["10.44.0.53"], ntp: ["10.44.0.1"],
      domain: "lab.test", hostname: "dhcpname", mtu: 1450, classlessRoutes: [{ dst: "0.0.0.0/0", gateway: "10.44.0.1" }, { dst: "10.44.1.0/24", gateway: "0.0.0.0" }], remaining: 590,
    };
    const s = mergeLayers({ links, leases: new Map([["eth0", lease]]) });
    expect(s.addresses).toEqual([{ link: "eth0", address: "10.44.0.12/24", layer: "dhcp", validLifetime: 590 }]);
    expect(s.routes).toEqual([
      { link: "eth0", dst: "0.0.0.0/0", gateway: "10.44.0.1", metric: 1024, table: 254, layer: "dhcp" },
      { link: "eth0", dst: "10.44.1.0/24", metric: 1024, table: 254, layer: "dhcp" },
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

  test("time servers: the schema's default says nothing, so DHCP's win; servers written in the config win over DHCP", () => {
    const lease = { address: "10.44.0.12", prefixLen: 24, serverId: "10.44.0.1", leaseTime: 600, t1: 300, t2: 525, routers: [], dns: [], ntp: ["10.44.0.1"], classlessRoutes: [], remaining: 590 };
    const leases = new Map([["eth0", lease]]);
    const dhcpOn = (time: string) => networkConfigOf(parse(`machine:\n  network:\n    interfaces: [{interface: eth0, dhcp: true}]\n${time}`).machine);
    expect(mergeLayers({ links, leases, config: dhcpOn("") }).timeServers).toEqual({ servers: ["10.44.0.1"], layer: "dhcp" });
    expect(mergeLayers({ links, leases, config: dhcpOn("  time: {servers: [ntp.example]}\n") }).timeServers).toEqual({ servers: ["ntp.example"], layer: "config" });
    expect(mergeLayers({ links, leases: none, config: dhcpOn("") }).timeServers).toEqual({ servers: DEFAULT_TIME_SERVERS, layer: "default" });
    expect(dhcpOn("  time: {bootTimeout: 1m30s}\n").time.bootTimeoutMs).toBe(90_000);
  });
});
