/**
 * Networking figures: time from DHCP client start to a bound lease (dnsmasq in a namespace),
 * and rtnetlink throughput (adding 1000 routes, dumping them) against iproute2 doing the same.
 * Needs root (network namespaces) and dnsmasq. Usage: bun bench/net.ts [--runs N]
 * Writes bench/results/net.md.
 */
import { DhcpClient } from "../core/dhcp/client.ts";
import { UdpTransport } from "../core/dhcp/transport.ts";
import { Rtnl } from "../core/netlink/rtnl.ts";
import { inNetns } from "../core/sys/netns.ts";
import { macOf, Netns, netnsSkipReason, vethPair } from "../test/lib/netns.ts";
import { Dnsmasq, dnsmasqSkipReason } from "../test/lib/dnsmasq.ts";
import { median, percentile, writeResults } from "./lib.ts";
import { cidrOf, ipOf } from "../core/ip/ip.ts";

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf("--runs") + 1] ?? 0) || 10;
const skip = netnsSkipReason ?? dnsmasqSkipReason;
if (skip) throw new Error(`bench/net.ts ${skip}`);

const fmt = (ms: number) => `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
const lines: string[] = [];

// ---- DHCP: start -> bound ----
{
  const srv = new Netns("bsrv"), cli = new Netns("bcli");
  vethPair(srv, cli);
  srv.ip("addr", "add", "10.45.0.1/24", "dev", "eth0");
  srv.ip("link", "set", "eth0", "up");
  cli.ip("link", "set", "eth0", "up");
  const server = new Dnsmasq(srv, { range: "10.45.0.10,10.45.0.200,255.255.255.0,2m" });
  await server.start();
  const mac = macOf(cli, "eth0");
  const times: number[] = [];
  let acks = 0;
  try {
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      let bound!: () => void;
      const got = new Promise<void>((r) => (bound = r));
      const c = new DhcpClient({
        ifname: "eth0", mac, transport: inNetns(cli.name, () => UdpTransport.open("eth0")),
        onChange: (lease) => { if (lease) bound(); },
      });
      c.start();
      await Promise.race([got, Bun.sleep(10000).then(() => { throw new Error("no lease within 10 s"); })]);
      times.push(performance.now() - t0);
      await c.stop({ release: true });
    }
    await Bun.sleep(300); // let the last log lines drain
    acks = server.log.match(/DHCPACK/g)?.length ?? 0;
  } finally {
    await server.dispose();
    srv.delete();
    cli.delete();
  }
  lines.push(`DHCP, client start to bound lease (DISCOVER/OFFER/REQUEST/ACK with dnsmasq --no-ping across a veth pair), ${runs} runs (dnsmasq logged ${acks} DHCPACKs):`, "",
    "| median | p90 | min | max |", "|---|---|---|---|",
    `| ${fmt(median(times))} | ${fmt(percentile(times, 90))} | ${fmt(Math.min(...times))} | ${fmt(Math.max(...times))} |`, "");
}

// ---- rtnetlink: 1000 routes ----
{
  const ns = new Netns("broute");
  ns.ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth1");
  ns.ip("link", "set", "eth0", "up");
  ns.ip("addr", "add", "10.46.0.2/16", "dev", "eth0");
  const nl = inNetns(ns.name, () => Rtnl.open());
  try {
    const idx = await nl.linkIndex("eth0");
    const N = 1000;
    const gateway = ipOf("10.46.0.1");
    let t0 = performance.now();
    for (let i = 0; i < N; i++) await nl.addRoute({ dst: cidrOf(`172.${16 + (i >> 8)}.${i & 0xff}.0/24`), gateway, oif: idx });
    const addMs = performance.now() - t0;
    const ours: number[] = [];
    let count = 0;
    for (let i = 0; i < runs; i++) {
      t0 = performance.now();
      count = (await nl.routes(4)).length;
      ours.push(performance.now() - t0);
    }
    const ipTimes: number[] = [];
    for (let i = 0; i < runs; i++) {
      t0 = performance.now();
      Bun.spawnSync(["ip", "-n", ns.name, "-j", "route", "show"], { stdout: "pipe" });
      ipTimes.push(performance.now() - t0);
    }
    // The same 1000 additions through iproute2's batch mode, for scale.
    const batch = Array.from({ length: N }, (_, i) => `route add 192.${168 + (i >> 8)}.${i & 0xff}.0/24 via 10.46.0.1 dev eth0`).join("\n") + "\n";
    t0 = performance.now();
    Bun.spawnSync(["ip", "-n", ns.name, "-batch", "-"], { stdin: Buffer.from(batch) });
    const ipAddMs = performance.now() - t0;
    lines.push(`rtnetlink with ${N} routes in a namespace (${runs} dump runs):`, "",
      "| what | ours | iproute2 |", "|---|---|---|",
      `| add ${N} routes, one request + ACK each | ${fmt(addMs)} (${fmt(addMs / N)} each) | ${fmt(ipAddMs)} (\`ip -batch\`, one process) |`,
      `| dump the main table (${count} routes decoded) | median ${fmt(median(ours))}, p90 ${fmt(percentile(ours, 90))} | median ${fmt(median(ipTimes))} (\`ip -j route show\`, a process each) |`, "");
  } finally {
    await nl.close();
    ns.delete();
  }
}

lines.push("Reproduce: `node_modules/.bin/bun bench/net.ts` (root; needs dnsmasq).");
writeResults("net", "Networking: DHCP lease time and rtnetlink throughput", lines);
process.exit(0);
