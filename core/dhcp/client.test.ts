/** The DHCP client against Debian's dnsmasq across a veth pair between two namespaces the test makes. */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { DhcpClient, type DhcpEvent, type Lease } from "./client.ts";
import { UdpTransport } from "./transport.ts";
import { Rtnl } from "../netlink/rtnl.ts";
import { inNetns } from "../sys/netns.ts";
import { macOf, Netns, netnsSkipReason, vethPair, waitFor } from "../../test/lib/netns.ts";
import { Dnsmasq, dnsmasqSkipReason } from "../../test/lib/dnsmasq.ts";
import { ipOf } from "../ip/ip.ts";

const skip = netnsSkipReason ?? dnsmasqSkipReason;

describe.skipIf(skip !== null)(`DHCP client with dnsmasq${skip ? ` (skipped: ${skip})` : ""}`, () => {
  let srv: Netns, cli: Netns, server: Dnsmasq, nl: Rtnl, client: DhcpClient;
  let events: { event: DhcpEvent; lease: Lease | null }[];

  async function startClient(): Promise<void> {
    const idx = await nl.linkIndex("eth0");
    client = new DhcpClient({
      ifname: "eth0", mac: macOf(cli, "eth0"), transport: inNetns(cli.name, () => UdpTransport.open("eth0")),
      initialTimeoutMs: 500, maxTimeoutMs: 2000, idleMs: 500,
      onChange: async (lease, event) => {
        events.push({ event, lease });
        // Apply the lease the way networkd does, so renewals can be unicast from the address.
        const old = events.slice(0, -1).reverse().find((e) => e.lease)?.lease;
        if (lease) await nl.addAddress({ index: idx, address: ipOf(lease.address), prefixLen: lease.prefixLen, validLifetime: lease.leaseTime });
        else if (old) await nl.deleteAddress({ index: idx, address: ipOf(old.address), prefixLen: old.prefixLen }).catch(() => undefined);
      },
    });
    client.start();
  }

  beforeEach(async () => {
    events = [];
    srv = new Netns("dsrv");
    cli = new Netns("dcli");
    vethPair(srv, cli);
    srv.ip("addr", "add", "10.42.0.1/24", "dev", "eth0");
    srv.ip("link", "set", "eth0", "up");
    cli.ip("link", "set", "eth0", "up");
    server = new Dnsmasq(srv, {
      range: "10.42.0.10,10.42.0.20,255.255.255.0,2m",
      options: ["option:T1,2", "option:T2,4", "option:dns-server,10.42.0.53", "option:domain-name,example.test", "option:mtu,1400",
        "option:classless-static-route,10.99.0.0/16,10.42.0.1,0.0.0.0/0,10.42.0.1"],
    });
    await server.start();
    nl = inNetns(cli.name, () => Rtnl.open());
  });

  afterEach(async () => {
    await client?.stop().catch(() => undefined);
    await server?.dispose();
    await nl?.close();
    srv?.delete();
    cli?.delete();
  });

  const has = (e: DhcpEvent) => () => events.some((x) => x.event === e);
  const addrs = () => cli.ipJson<any[]>("addr", "show", "dev", "eth0")[0].addr_info.filter((a: any) => a.family === "inet").map((a: any) => `${a.local}/${a.prefixlen}`);

  test("gets a lease with every option, renews at T1 and releases on stop", async () => {
    await startClient();
    expect(await waitFor(has("bound"), 10000)).toBe(true);
    const lease = events[0]!.lease!;
    expect(lease).toMatchObject({
      prefixLen: 24, serverId: "10.42.0.1", leaseTime: 120, t2: 4, routers: ["10.42.0.1"], dns: ["10.42.0.53"], domain: "example.test", mtu: 1400,
      classlessRoutes: [{ dst: "10.99.0.0/16", gateway: "10.42.0.1" }, { dst: "0.0.0.0/0", gateway: "10.42.0.1" }],
    });
    expect(lease.t1).toBeGreaterThan(0);
    expect(lease.t1).toBeLessThan(lease.t2);
    expect(addrs()).toEqual([`${lease.address}/24`]);
    expect(await waitFor(has("renewed"), 8000)).toBe(true);
    // The renewal was a unicast REQUEST answered by an ACK for the same address.
    const acks = () => server.log.match(/DHCPACK\(eth0\) 10\.42\.0\.\d+/g)?.length ?? 0;
    expect(await waitFor(() => acks() >= 2, 3000)).toBe(true);
    expect(events.find((e) => e.event === "renewed")!.lease!.address).toBe(lease.address);
    await client.stop({ release: true });
    expect(await waitFor(() => server.log.includes("DHCPRELEASE"), 3000)).toBe(true);
    expect(addrs()).toEqual([]);
    expect(client.stats.malformed).toBe(0);
  }, 30000);

  test("a server that forgot the lease answers the renewal with NAK; the client starts over", async () => {
    await startClient();
    expect(await waitFor(has("bound"), 10000)).toBe(true);
    // A new server for the same subnet whose pool no longer holds the client's address.
    await server.dispose();
    server = new Dnsmasq(srv, { range: "10.42.0.100,10.42.0.110,255.255.255.0,2m", options: ["option:T1,2", "option:T2,4"] });
    await server.start();
    expect(await waitFor(has("nak"), 10000)).toBe(true);
    // dnsmasq logs the NAK after sending it, so its line may reach us after the client has acted on it.
    expect(await waitFor(() => server.log.includes("DHCPNAK"), 3000)).toBe(true);
    // Back to DISCOVER: a second lease follows.
    expect(await waitFor(() => events.filter((e) => e.event === "bound").length >= 2, 10000)).toBe(true);
    expect(addrs()).toEqual([`${events.at(-1)!.lease!.address}/24`]);
    expect(events.at(-1)!.lease!.address).toMatch(/^10\.42\.0\.1(0\d|10)$/);
  }, 30000);

  test("server gone: the client goes renewing then rebinding, and rebinds when a server answers again", async () => {
    await startClient();
    expect(await waitFor(has("bound"), 10000)).toBe(true);
    const address = events[0]!.lease!.address;
    await server.stop();
    expect(await waitFor(() => client.state === "renewing", 5000)).toBe(true);
    expect(await waitFor(() => client.state === "rebinding", 8000)).toBe(true);
    expect(addrs()).toEqual([`${address}/24`]); // still valid until the lease ends
    await server.start();
    expect(await waitFor(has("rebound"), 10000)).toBe(true);
    expect(events.find((e) => e.event === "rebound")!.lease!.address).toBe(address);
  }, 30000);

  test("a client started on a link that is down keeps retrying and gets a lease once the link comes up", async () => {
    cli.ip("link", "set", "eth0", "down");
    await startClient();
    expect(await waitFor(() => client.lastError !== null, 5000)).toBe(true);
    expect(client.lastError).toContain("sendto DHCP socket on eth0: Network is unreachable");
    expect(events).toEqual([]);
    cli.ip("link", "set", "eth0", "up");
    expect(await waitFor(has("bound"), 15000)).toBe(true);
  }, 30000);
});
