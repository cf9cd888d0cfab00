/**
 * Log shipping's cost (core/logship, as init uses it through services/init/logship.ts): what a
 * service's chunk costs the caller with a destination down (split, encode, queue, drop: the
 * work done in the supervisor's read loop), how many lines a second reach a loopback TCP
 * listener and a UDP receiver, and that memory stays bounded while a destination is down.
 * Usage: bun bench/logship.ts [--lines N]   Writes bench/results/logship.md.
 */
import { createSocket } from "node:dgram";
import { createServer } from "node:net";
import { loadavg } from "node:os";
import { freeLoopbackPort } from "../core/cluster/container.ts";
import { Store } from "../core/resources/index.ts";
import { LogShipping } from "../services/init/logship.ts";
import { registerInitDefinitions } from "../services/init/resources.ts";
import { median, writeResults } from "./lib.ts";

const args = process.argv.slice(2);
const N = Number(args[args.indexOf("--lines") + 1] ?? 0) || 200_000;
const LINE = "2026-12-04T20:00:00Z level=info msg=\"request served\" path=/v1/things status=200 took=1.2ms\n";
const quiet = { info() {}, warn() {} };

function shipping(endpoints: string[]): LogShipping {
  const store = new Store();
  registerInitDefinitions(store);
  const ls = new LogShipping({ store, hostname: () => "bench-node", log: quiet, publishMs: 60_000 });
  ls.configure({ machine: { logging: { destinations: endpoints.map((endpoint) => ({ endpoint })) } } });
  return ls;
}

/** Chunks of 64 lines, as a pipe read delivers them under load. */
const chunk = new TextEncoder().encode(LINE.repeat(64));

async function downCost(): Promise<{ nsPerLine: number; rssGrowthMB: number; dropped: number }> {
  const port = await freeLoopbackPort();
  const ls = shipping([`tcp://127.0.0.1:${port}`]);
  const runs: number[] = [];
  Bun.gc(true);
  const rss0 = process.memoryUsage().rss;
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    for (let i = 0; i < N / 64; i++) ls.serviceOutput("bench", chunk, "stdout");
    runs.push(((performance.now() - t) * 1e6) / N);
  }
  Bun.gc(true);
  const rss1 = process.memoryUsage().rss;
  ls.publish();
  const st = (ls as unknown as { shipper: { status(): { dropped: number }[] } }).shipper.status()[0]!;
  await ls.stop();
  return { nsPerLine: median(runs), rssGrowthMB: (rss1 - rss0) / 1e6, dropped: st.dropped };
}

async function tcpRate(): Promise<{ linesPerSec: number; received: number; dropped: number }> {
  const port = await freeLoopbackPort();
  let received = 0;
  const server = createServer((c) => c.on("data", (d: Buffer) => { for (const b of d) if (b === 10) received++; }));
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
  const ls = shipping([`tcp://127.0.0.1:${port}`]);
  const status = () => (ls as unknown as { shipper: { status(): { dropped: number; queued: number; connected: boolean }[] } }).shipper.status()[0]!;
  // Connected first, so the figure is of sending, not of the first connect.
  ls.serviceOutput("bench", new TextEncoder().encode("warm-up\n"), "stdout");
  for (let i = 0; i < 500 && received < 1; i++) await Bun.sleep(10);
  received = 0;
  const t = performance.now();
  // Fed in steps that leave the loop room to send, as a real service's writes do.
  for (let i = 0; i < N / 64; i++) {
    ls.serviceOutput("bench", chunk, "stdout");
    if (i % 16 === 15) await Bun.sleep(0);
  }
  const deadline = Date.now() + 60_000;
  while (received + status().dropped < N && Date.now() < deadline) await Bun.sleep(5);
  const secs = (performance.now() - t) / 1000;
  const dropped = status().dropped;
  await ls.stop();
  server.close();
  return { linesPerSec: received / secs, received, dropped };
}

async function udpRate(): Promise<{ linesPerSec: number; received: number; dropped: number }> {
  let received = 0;
  const rx = createSocket("udp4");
  await new Promise<void>((r) => rx.bind(0, "127.0.0.1", () => r()));
  rx.setRecvBufferSize(16 << 20);
  rx.on("message", () => { received++; });
  const ls = shipping([`udp://127.0.0.1:${rx.address().port}`]);
  const status = () => (ls as unknown as { shipper: { status(): { dropped: number; queued: number; sent: number }[] } }).shipper.status()[0]!;
  const t = performance.now();
  for (let i = 0; i < N / 64; i++) {
    ls.serviceOutput("bench", chunk, "stdout");
    if (i % 16 === 15) await Bun.sleep(0);
  }
  const deadline = Date.now() + 60_000;
  while (status().sent + status().dropped < N && Date.now() < deadline) await Bun.sleep(5);
  await Bun.sleep(100);
  const secs = (performance.now() - t) / 1000;
  const dropped = status().dropped;
  await ls.stop();
  rx.close();
  return { linesPerSec: received / secs, received, dropped };
}

const down = await downCost();
const tcp = await tcpRate();
const udp = await udpRate();
writeResults("logship", "Log shipping", [
  `${N} lines of ${LINE.length - 1} bytes, fed in chunks of 64 lines (\`bun bench/logship.ts --lines ${N}\`).`, "",
  "| case | figure |", "|---|---|",
  `| destination down: the caller's cost per line (split, encode, queue, drop the oldest), median of 5 runs | ${down.nsPerLine.toFixed(0)} ns |`,
  `| destination down: memory after ${5 * N} lines (RSS growth, queue bound 4096 lines / 1 MiB) | ${down.rssGrowthMB.toFixed(1)} MB, ${down.dropped} dropped |`,
  `| tcp to a loopback listener | ${Math.round(tcp.linesPerSec)} lines/s (${tcp.received} received, ${tcp.dropped} dropped) |`,
  `| udp to a loopback receiver (a datagram per line) | ${Math.round(udp.linesPerSec)} lines/s (${udp.received} received, ${udp.dropped} dropped at the queue) |`,
  "",
  `Load average while measured: ${loadavg().map((l) => l.toFixed(1)).join(", ")} (the machine is shared: figures on a busy machine are several times an idle one's).`, "",
  "Drops in the sending rows are the queue's bound at work when lines come faster than the socket",
  "takes them (a service flooding its log); the caller's cost never waits on the network.",
]);
