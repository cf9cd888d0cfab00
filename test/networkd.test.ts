/**
 * networkd's controllers against the real kernel in namespaces the tests create: static config,
 * removal, drift repair, default DHCP with dnsmasq, and the `networkd` personality itself.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Rtnl } from "../core/netlink/rtnl.ts";
import { NetlinkMonitor } from "../core/netlink/monitor.ts";
import { inNetns } from "../core/sys/netns.ts";
import { UdpTransport } from "../core/dhcp/transport.ts";
import { NetworkController } from "../services/networkd/controller.ts";
import { networkConfigOf, type NetworkConfig } from "../services/networkd/config.ts";
import { kernelCanMake, Netns, netnsSkipReason, vethPair, waitFor } from "./lib/netns.ts";
import { Dnsmasq, dnsmasqSkipReason } from "./lib/dnsmasq.ts";
import { parse } from "yaml";
import { workerConfig } from "./lib/machineconfig.ts";
import { posOf } from "../core/config/testdata/fixtures.ts";
import { ADDRESS_STATUSES, HOSTNAME_SPECS, ROUTE_STATUSES, TIME_STATUSES } from "../core/netresources/kinds.ts";

const root = resolve(import.meta.dir, "..");

const cfg = (yaml: string): NetworkConfig => networkConfigOf(parse(yaml).machine);

const STATIC = `
machine:
  network:
    hostname: node1.example.test
    interfaces:
      - interface: eth0
        mtu: 1400
        addresses: [10.5.0.2/24, "fd00::2/64"]
        routes:
          - {network: 0.0.0.0/0, gateway: 10.5.0.1}
          - {network: 10.77.0.0/16, gateway: 10.5.0.1, metric: 50}
          - {network: 10.88.0.0/16, gateway: 10.5.0.1, table: 100}
    nameservers: [10.5.0.53, 10.5.0.54]
    searchDomains: [example.test]
    extraHostEntries: [{ip: 10.5.0.10, aliases: [registry.local]}]
  time: {disabled: true}
`;

describe.skipIf(netnsSkipReason !== null)(`networkd controllers${netnsSkipReason ? ` (skipped: ${netnsSkipReason})` : ""}`, () => {
  let node: Netns, peer: Netns, nl: Rtnl, dir: string, ctl: NetworkController | undefined;
  const logs: string[] = [];

  beforeEach(() => {
    node = new Netns("node");
    peer = new Netns("peer");
    vethPair(node, peer);
    peer.ip("link", "set", "eth0", "up");
    nl = inNetns(node.name, () => Rtnl.open());
    dir = mkdtempSync(join(tmpdir(), "bunker-networkd-"));
    logs.length = 0;
  });
  afterEach(async () => {
    await ctl?.stop();
    ctl = undefined;
    await nl.close();
    node.delete();
    peer.delete();
    rmSync(dir, { recursive: true, force: true });
  });

  const controller = (config: NetworkConfig | undefined, extra: Partial<ConstructorParameters<typeof NetworkController>[0]> = {}) =>
    new NetworkController({
      nl, stateDir: dir, intervalMs: 200, log: (l) => logs.push(l),
      openTransport: (ifname) => inNetns(node.name, () => UdpTransport.open(ifname)),
      dhcp: { initialTimeoutMs: 500, maxTimeoutMs: 2000, idleMs: 500 },
      ...(config ? { config } : {}), ...extra,
    });
  const v4v6 = () => node.ipJson<any[]>("addr", "show", "dev", "eth0")[0].addr_info.filter((a: any) => a.scope === "global").map((a: any) => `${a.local}/${a.prefixlen}`).sort();

  test("a static config is applied: MTU, up, v4 and v6 addresses, routes with a metric, resolv.conf, hosts", async () => {
    // A machine's loopback starts down, and nothing configures it: networkd brings it up, or the
    // node cannot reach its own addresses (etcd's health check on a control plane did not).
    node.ip("link", "set", "lo", "down");
    ctl = controller(cfg(STATIC));
    await ctl.start();
    expect(node.ipJson<any[]>("link", "show", "lo")[0].flags).toContain("UP");
    const link = node.ipJson<any[]>("link", "show", "eth0")[0];
    expect(link.mtu).toBe(1400);
    expect(link.flags).toContain("UP");
    expect(v4v6()).toEqual(["10.5.0.2/24", "fd00::2/64"]);
    expect(node.ipJson<any[]>("route", "show")).toContainEqual(expect.objectContaining({ dst: "default", gateway: "10.5.0.1", dev: "eth0", metric: 1024, protocol: "static" }));
    expect(node.ipJson<any[]>("route", "show")).toContainEqual(expect.objectContaining({ dst: "10.77.0.0/16", gateway: "10.5.0.1", metric: 50 }));
    expect(node.ipJson<any[]>("route", "show", "table", "100")).toContainEqual(expect.objectContaining({ dst: "10.88.0.0/16", gateway: "10.5.0.1", dev: "eth0", protocol: "static" }));
    expect(node.ipJson<any[]>("route", "show").map((r) => r.dst)).not.toContain("10.88.0.0/16");
    expect(readFileSync(join(dir, "resolv.conf"), "utf8")).toContain("nameserver 10.5.0.53\nnameserver 10.5.0.54\nsearch example.test\n");
    const hosts = readFileSync(join(dir, "hosts"), "utf8");
    expect(hosts).toContain("10.5.0.2\tnode1.example.test node1");
    expect(hosts).toContain("10.5.0.10\tregistry.local");
    const status = JSON.parse(readFileSync(join(dir, "status.json"), "utf8"));
    expect(status.errors).toEqual([]);
    expect(status.hostname).toEqual({ hostname: "node1", domain: "example.test", layer: "config" });
    expect(status.links.find((l: any) => l.name === "eth0")).toMatchObject({ up: true, mtu: 1400 });
    expect(ctl.spec!.resolvers.layer).toBe("config");
    const resources = JSON.parse(readFileSync(join(dir, "resources.json"), "utf8"));
    expect(resources).toContainEqual({ namespace: "network", type: ADDRESS_STATUSES.type, id: "eth0/10.5.0.2/24", spec: expect.objectContaining({ link: "eth0", family: 4 }) });
    expect(resources).toContainEqual(expect.objectContaining({ type: ROUTE_STATUSES.type, id: "inet4/main/10.77.0.0/16/10.5.0.1/eth0/50" }));
    expect(resources).toContainEqual(expect.objectContaining({ type: HOSTNAME_SPECS.type, spec: { hostname: "node1", domain: "example.test", layer: "config" } }));
    expect(resources).toContainEqual(expect.objectContaining({ type: TIME_STATUSES.type, spec: { synced: false, disabled: true } }));
  });

  test("removing things from the config removes them from the kernel; hand-made routes are left alone", async () => {
    ctl = controller(cfg(STATIC));
    await ctl.start();
    node.ip("route", "add", "192.0.2.0/24", "via", "10.5.0.1"); // proto boot: not networkd's
    await ctl.stop();
    const smaller = STATIC.replace(', "fd00::2/64"', "").replace(/ {10}- \{network: 10\.77.*\n/, "");
    ctl = controller(cfg(smaller));
    await ctl.start();
    expect(v4v6()).toEqual(["10.5.0.2/24"]);
    expect(node.ipJson<any[]>("route", "show").map((r) => r.dst)).not.toContain("10.77.0.0/16");
    expect(node.ipJson<any[]>("route", "show").map((r) => r.dst)).toContain("192.0.2.0/24");
  });

  test("drift is repaired: an address and a route deleted by hand come back", async () => {
    ctl = controller(cfg(STATIC));
    await ctl.start();
    node.ip("addr", "del", "10.5.0.2/24", "dev", "eth0"); // takes the default route with it
    expect(node.ipJson<any[]>("route", "show").find((r) => r.dst === "default")).toBeUndefined();
    expect(await waitFor(() => v4v6().includes("10.5.0.2/24") && node.ipJson<any[]>("route", "show").some((r) => r.dst === "default"), 5000)).toBe(true);
    expect(logs).toContain("networkd: add address 10.5.0.2/24 on eth0");
  });

  test.skipIf(!kernelCanMake("vlan") || !kernelCanMake("bond"))(`a bond of two links with a VLAN on it is built, and torn down when the config drops it${kernelCanMake("vlan") && kernelCanMake("bond") ? "" : " (skipped: this kernel lacks 802.1Q VLAN or bonding support)"}`, async () => {
    node.ip("link", "add", "eth1", "type", "veth", "peer", "name", "eth2");
    const bonded = `
machine:
  network:
    interfaces:
      - interface: bond0
        bond: {interfaces: [eth0, eth1], mode: active-backup, miimon: 100}
        vlans: [{vlanId: 42, addresses: [10.42.0.2/24]}]
  time: {disabled: true}
`;
    ctl = controller(cfg(bonded));
    await ctl.start();
    const bond = node.ipJson<any[]>("-d", "link", "show", "bond0")[0];
    expect([bond.linkinfo.info_kind, bond.linkinfo.info_data.mode, bond.linkinfo.info_data.miimon]).toEqual(["bond", "active-backup", 100]);
    expect(node.ipJson<any[]>("link", "show", "eth0")[0].master).toBe("bond0");
    expect(node.ipJson<any[]>("link", "show", "eth1")[0].master).toBe("bond0");
    const vlan = node.ipJson<any[]>("-d", "addr", "show", "bond0.42")[0];
    expect([vlan.linkinfo.info_kind, vlan.linkinfo.info_data.id]).toEqual(["vlan", 42]);
    expect(vlan.addr_info.map((a: any) => `${a.local}/${a.prefixlen}`)).toContain("10.42.0.2/24");
    await ctl.stop();
    ctl = controller(cfg(STATIC));
    await ctl.start();
    expect(node.ipJson<any[]>("link", "show").map((l) => l.ifname)).not.toContain("bond0.42");
    expect(node.ipJson<any[]>("link", "show").map((l) => l.ifname)).not.toContain("bond0");
  });

  test("with the kernel monitor, drift is repaired long before the next periodic pass", async () => {
    const monitor = inNetns(node.name, () => NetlinkMonitor.open());
    try {
      ctl = controller(cfg(STATIC), { intervalMs: 600000, monitor, monitorPollMs: 50 });
      await ctl.start();
      const passes = ctl.passes;
      node.ip("addr", "del", "fd00::2/64", "dev", "eth0");
      // The periodic pass is ten minutes away: only the monitor can bring it back within the wait.
      expect(await waitFor(() => v4v6().includes("fd00::2/64"), 10000)).toBe(true);
      expect(ctl.passes).toBeGreaterThan(passes);
    } finally {
      await ctl?.stop();
      ctl = undefined;
      await monitor.close();
    }
  });

  test("an invalid network section written by hand (networkConfigOf) is refused with the YAML path named", () => {
    expect(() => cfg("machine:\n  network:\n    interfaces:\n      - interface: eth0\n        addresses: [10.5.0.300/24]\n")).toThrow('machine.network.interfaces[0].addresses[0]: expected an address with a prefix length like 10.5.0.2/24 or fd00::2/64, found "10.5.0.300/24"');
    expect(() => cfg("machine:\n  network:\n    interfaces:\n      - {interface: bond0, bond: {interfaces: [eth1], mode: fast}}\n")).toThrow('machine.network.interfaces[0].bond.mode: Invalid type: Expected ("balance-rr" | "active-backup"');
    expect(() => cfg("machine:\n  network:\n    interfaces:\n      - {interface: eth0, routes: [{gateway: 10.5.0.1, table: 255}]}\n")).toThrow("machine.network.interfaces[0].routes[0].table: table 255 is the kernel's local table, which networkd does not manage");
    expect(() => cfg("machine:\n  time: {bootTimeout: soon}\n")).toThrow('machine.time.bootTimeout: expected a duration like 30s, 2m or 1h30m (units ns, us, ms, s, m, h), found "soon"');
  });

  test.skipIf(dnsmasqSkipReason !== null)(`defaults: with no network config, DHCP runs on the link with carrier and the lease is applied${dnsmasqSkipReason ? ` (skipped: ${dnsmasqSkipReason})` : ""}`, async () => {
    peer.ip("addr", "add", "10.44.0.1/24", "dev", "eth0");
    const server = new Dnsmasq(peer, { range: "10.44.0.10,10.44.0.20,255.255.255.0,2m", options: ["option:dns-server,10.44.0.53", "option:domain-name,lab.test", "option:ntp-server,10.44.0.1", "option:router,10.44.0.1"] });
    await server.start();
    try {
      ctl = controller(undefined);
      await ctl.start(); // brings eth0 up; carrier follows
      expect(await waitFor(() => v4v6().some((a: string) => a.startsWith("10.44.0.")), 15000)).toBe(true);
      expect(await waitFor(() => node.ipJson<any[]>("route", "show").some((r) => r.dst === "default" && r.gateway === "10.44.0.1" && r.protocol === "dhcp"), 5000)).toBe(true);
      expect(await waitFor(() => existsSync(join(dir, "resolv.conf")) && readFileSync(join(dir, "resolv.conf"), "utf8").includes("nameserver 10.44.0.53"), 5000)).toBe(true);
      expect(readFileSync(join(dir, "resolv.conf"), "utf8")).toContain("search lab.test");
      expect(ctl.spec!.timeServers).toEqual({ servers: ["10.44.0.1"], layer: "dhcp" });
      expect(ctl.spec!.links.find((l) => l.name === "eth0")?.layer).toBe("default");
      // The lease's lifetime is on the address too, so the kernel drops it if networkd dies.
      const a = node.ipJson<any[]>("addr", "show", "dev", "eth0")[0].addr_info.find((x: any) => x.family === "inet");
      expect(a.valid_life_time).toBeLessThanOrEqual(120);
      await ctl.stop({ release: true });
      ctl = undefined;
      expect(await waitFor(() => server.log.includes("DHCPRELEASE"), 3000)).toBe(true);
    } finally {
      await server.dispose();
    }
  }, 30000);

  test.skipIf(dnsmasqSkipReason !== null)(`observing (a container in the host's network): with a DHCP server on the link, no DHCP runs and the addresses and routes it did not make stay${dnsmasqSkipReason ? ` (skipped: ${dnsmasqSkipReason})` : ""}`, async () => {
    peer.ip("addr", "add", "10.46.0.1/24", "dev", "eth0");
    node.ip("link", "set", "eth0", "up");
    node.ip("addr", "add", "10.46.0.7/24", "dev", "eth0");
    node.ip("route", "add", "10.99.0.0/16", "via", "10.46.0.1", "proto", "static");
    const server = new Dnsmasq(peer, { range: "10.46.0.10,10.46.0.20,255.255.255.0,2m", options: ["option:router,10.46.0.1"] });
    await server.start();
    try {
      // Without `observe` the defaults would start DHCP here and remove 10.46.0.7 and the route.
      ctl = controller(undefined, { observe: true });
      await ctl.start();
      expect(await waitFor(() => ctl!.passes >= 3, 10000)).toBe(true);
      expect(v4v6()).toEqual(["10.46.0.7/24"]);
      expect(node.ipJson<any[]>("route", "show").some((r) => r.dst === "10.99.0.0/16")).toBe(true);
      expect(server.log).not.toContain("DHCPDISCOVER");
      expect(ctl.status!.dhcp).toEqual([]);
      // What it sees is still published.
      expect(ctl.status!.addresses.some((a) => a.address === "10.46.0.7/24")).toBe(true);
    } finally {
      await server.dispose();
    }
  }, 30000);

  test.skipIf(dnsmasqSkipReason !== null)(`a lost lease (NAK at renewal) takes its address and routes away; the new lease brings its own${dnsmasqSkipReason ? ` (skipped: ${dnsmasqSkipReason})` : ""}`, async () => {
    peer.ip("addr", "add", "10.47.0.1/24", "dev", "eth0");
    let server = new Dnsmasq(peer, { range: "10.47.0.10,10.47.0.20,255.255.255.0,2m", options: ["option:T1,2", "option:T2,4", "option:router,10.47.0.1"] });
    await server.start();
    try {
      ctl = controller(cfg("machine:\n  network:\n    interfaces: [{interface: eth0, dhcp: true}]\n  time: {disabled: true}\n"));
      await ctl.start();
      expect(await waitFor(() => v4v6().some((a: string) => /^10\.47\.0\.(1\d|20)\/24$/.test(a)), 10000)).toBe(true);
      const first = v4v6()[0];
      // A server for the same subnet whose pool no longer holds that address: the renewal gets a NAK.
      await server.dispose();
      server = new Dnsmasq(peer, { range: "10.47.0.100,10.47.0.110,255.255.255.0,2m", options: ["option:T1,2", "option:T2,4", "option:router,10.47.0.1"] });
      await server.start();
      expect(await waitFor(() => logs.some((l) => l.startsWith("networkd: dhcp nak on eth0")), 10000)).toBe(true);
      expect(await waitFor(() => { const a = v4v6(); return a.length === 1 && /^10\.47\.0\.1(0\d|10)\/24$/.test(a[0]!); }, 10000)).toBe(true);
      expect(v4v6()).not.toContain(first);
      expect(node.ipJson<any[]>("route", "show").filter((r) => r.dst === "default").map((r) => r.gateway)).toEqual(["10.47.0.1"]);
    } finally {
      await server.dispose();
    }
  }, 40000);

  const binary = join(root, "out/bunker");
  test.skipIf(!existsSync(binary))(`the networkd personality applies a config once, sets the hostname in its UTS namespace, and prints the status${existsSync(binary) ? "" : " (skipped: out/bunker not built; scripts/test.sh builds it)"}`, () => {
    const config = join(dir, "machine.yaml");
    writeFileSync(config, workerConfig(STATIC.split("machine:\n")[1]!));
    const bin = [binary];
    const script = `'${binary}' networkd --once --config '${config}' --state-dir '${dir}' --cmdline /dev/null > '${dir}/out.json' && hostname`;
    const out = node.exec(["unshare", "--uts", "sh", "-c", script]).trim();
    expect(out).toBe("node1");
    const status = JSON.parse(readFileSync(join(dir, "out.json"), "utf8").slice(readFileSync(join(dir, "out.json"), "utf8").indexOf("{\n")));
    expect(status.addresses).toContainEqual(expect.objectContaining({ link: "eth0", address: "10.5.0.2/24" }));
    expect(v4v6()).toEqual(["10.5.0.2/24", "fd00::2/64"]);
    // A bad config: exit 1 with the path named, nothing applied.
    const bad = workerConfig("  network:\n    interfaces: [{interface: eth0, mtu: 5}]\n");
    writeFileSync(config, bad);
    const refused = Bun.spawnSync(["ip", "netns", "exec", node.name, ...bin, "networkd", "--once", "--config", config, "--state-dir", dir], { stderr: "pipe" });
    expect(refused.exitCode).toBe(1);
    // core/config's loadConfig: the file, line and column, the YAML path and what was expected.
    const at = posOf(bad, "mtu: 5", 5);
    expect(refused.stderr.toString()).toContain(`${config}:${at.line}:${at.column}: error: machine.network.interfaces[0].mtu: expected at least 68, found the number 5`);
  }, 20000);

  test.skipIf(!existsSync(binary))(`the networkd personality keeps running: drift repaired, SIGTERM stops it cleanly${existsSync(binary) ? "" : " (skipped: out/bunker not built)"}`, async () => {
    const config = join(dir, "machine.yaml");
    writeFileSync(config, workerConfig(STATIC.split("machine:\n")[1]!));
    // --no-time: a test must never move this machine's clock.
    const p = Bun.spawn(["ip", "netns", "exec", node.name, "unshare", "--uts", binary, "networkd", "--config", config, "--state-dir", dir, "--cmdline", "/dev/null", "--no-time"], { stdout: "pipe", stderr: "pipe" });
    try {
      expect(await waitFor(() => v4v6().includes("10.5.0.2/24"), 10000)).toBe(true);
      node.ip("addr", "del", "10.5.0.2/24", "dev", "eth0");
      expect(await waitFor(() => v4v6().includes("10.5.0.2/24"), 5000)).toBe(true);
    } finally {
      p.kill("SIGTERM");
    }
    expect(await p.exited).toBe(0);
    const out = await new Response(p.stdout).text();
    expect(out).toContain("networkd: running (1 managed links)");
    expect(out).toContain("networkd: stopping, releasing DHCP leases");
  }, 20000);
});
