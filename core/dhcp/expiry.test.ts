/**
 * Lease expiry with no server left. dnsmasq will not grant less than two minutes, so this test
 * takes about that long; it lives in its own file to keep the others quick to run.
 */
import { expect, test } from "bun:test";
import { DhcpClient, type DhcpEvent } from "./client.ts";
import { UdpTransport } from "./transport.ts";
import { Rtnl } from "../netlink/rtnl.ts";
import { inNetns } from "../sys/netns.ts";
import { macOf, Netns, netnsSkipReason, vethPair, waitFor } from "../../test/lib/netns.ts";
import { Dnsmasq, dnsmasqSkipReason } from "../../test/lib/dnsmasq.ts";
import { ipOf } from "../ip/ip.ts";

const skip = netnsSkipReason ?? dnsmasqSkipReason;

test.skipIf(skip !== null)(`a lease that cannot be renewed expires and its address goes${skip ? ` (skipped: ${skip})` : ""}`, async () => {
  const srv = new Netns("esrv"), cli = new Netns("ecli");
  const server = new Dnsmasq(srv, { range: "10.43.0.10,10.43.0.20,255.255.255.0,2m", options: ["option:T1,2", "option:T2,4"] });
  const nl = inNetns(cli.name, () => Rtnl.open());
  let client: DhcpClient | undefined;
  try {
    vethPair(srv, cli);
    srv.ip("addr", "add", "10.43.0.1/24", "dev", "eth0");
    srv.ip("link", "set", "eth0", "up");
    cli.ip("link", "set", "eth0", "up");
    await server.start();
    const idx = await nl.linkIndex("eth0");
    const events: DhcpEvent[] = [];
    let current: { address: string; prefixLen: number } | null = null;
    client = new DhcpClient({
      ifname: "eth0", mac: macOf(cli, "eth0"), transport: inNetns(cli.name, () => UdpTransport.open("eth0")),
      initialTimeoutMs: 500, maxTimeoutMs: 5000, idleMs: 1000,
      onChange: async (lease, event) => {
        events.push(event);
        if (lease) {
          current = lease;
          await nl.addAddress({ index: idx, address: ipOf(lease.address), prefixLen: lease.prefixLen, validLifetime: lease.leaseTime });
        } else if (current) {
          await nl.deleteAddress({ index: idx, address: ipOf(current.address), prefixLen: current.prefixLen }).catch(() => undefined);
          current = null;
        }
      },
    });
    client.start();
    expect(await waitFor(() => events.includes("bound"), 10000)).toBe(true);
    await server.stop();
    expect(await waitFor(() => events.includes("expired"), 135000)).toBe(true);
    expect(events).toEqual(["bound", "expired"]);
    const v4 = cli.ipJson<any[]>("addr", "show", "dev", "eth0")[0].addr_info.filter((a: any) => a.family === "inet");
    expect(v4).toEqual([]);
    // Back to DISCOVER with nobody answering: retransmissions are bounded and go on.
    expect(await waitFor(() => client!.state === "selecting", 3000)).toBe(true);
  } finally {
    await client?.stop();
    await server.dispose();
    await nl.close();
    srv.delete();
    cli.delete();
  }
}, 160000);
