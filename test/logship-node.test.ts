/**
 * Log shipping on a whole node: the compiled binary's init (container mode) runs in one network
 * namespace, the receivers in another, joined by a veth pair; Python's socket module is the
 * independent receiver and parses every record as JSON. The destinations are applied live over
 * init's socket (MODE LIVE: refused if the change needed a reboot): UDP records arrive at once; a
 * TCP destination that is down at first gets the lines written once it listens; a flood with
 * the TCP side down is counted as drops in its LogDestinationStatus while init keeps answering;
 * a destination removed from the config gets nothing more. Needs root (namespaces).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { MachineService } from "../core/api/gen/services.ts";
import { bunker } from "../core/api/gen/api.js";
import type { GrpcClient } from "../core/grpc/client.ts";
import { getSpec, initClient } from "../services/init/api/client.ts";
import type { LogDestinationSpec } from "../services/init/logship.ts";
import { LOG_DESTINATIONS } from "../services/init/resources.ts";
import { bin, generateCluster } from "./lib/container-node.ts";
import { until } from "./lib/json-lines-sink.ts";
import { Netns, netnsSkipReason, sh } from "./lib/netns.ts";
import { eventually } from "./lib/eventually.ts";

if (netnsSkipReason) console.warn(`logship-node: skipped, ${netnsSkipReason}`);
const NODE_IP = "198.51.100.1";
const SINK_IP = "198.51.100.2";
const UDP = `udp://${SINK_IP}:5514`;
const TCP = `tcp://${SINK_IP}:5515`;

const LISTENER = `
import json, socket, sys
proto, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
if proto == "udp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((host, port))
    print("ready", flush=True)
    while True:
        data, _ = s.recvfrom(65536)
        print(json.dumps(json.loads(data)), flush=True)
else:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(4)
    print("ready", flush=True)
    while True:
        c, _ = s.accept()
        for line in c.makefile("rb"):
            print(json.dumps(json.loads(line)), flush=True)
`;

let work = "";
let nodeNs: Netns, sinkNs: Netns;
let init: Bun.Subprocess | undefined;
let client: GrpcClient;
let baseConfig: Record<string, any>;
const listeners: Bun.Subprocess[] = [];

/** A Python receiver in the sink namespace; its parsed records as they come. */
async function listen(proto: "udp" | "tcp", port: number): Promise<{ records: any[]; proc: Bun.Subprocess }> {
  const proc = Bun.spawn(["ip", "netns", "exec", sinkNs.name, "python3", join(work, "listener.py"), proto, SINK_IP, String(port)], { stdout: "pipe", stderr: "inherit" });
  listeners.push(proc);
  const records: any[] = [];
  let ready = false;
  void (async () => {
    let buf = "";
    for await (const chunk of proc.stdout as ReadableStream<Uint8Array>) {
      buf += new TextDecoder().decode(chunk);
      const lines = buf.split("\n");
      buf = lines.pop()!;
      for (const l of lines) {
        if (l === "ready") ready = true;
        else records.push(JSON.parse(l));
      }
    }
  })();
  await until(`the ${proto} listener is ready`, () => ready);
  return { records, proc };
}

async function apply(cfg: Record<string, any>): Promise<void> {
  const r = await client.unary(MachineService.ApplyConfiguration, { data: new TextEncoder().encode(stringify(cfg)), mode: bunker.machine.v1.ApplyMode.APPLY_MODE_LIVE });
  expect(r.mode).toBe(bunker.machine.v1.ApplyMode.APPLY_MODE_LIVE);
}

const withDestinations = (...endpoints: string[]) => ({
  ...baseConfig, machine: { ...baseConfig.machine, logging: { destinations: endpoints.map((endpoint) => ({ endpoint, format: "json_lines" })) } },
});
const status = (endpoint: string) => getSpec<LogDestinationSpec>(client, LOG_DESTINATIONS.type, endpoint, LOG_DESTINATIONS.namespace);

/** Polls the destination's status until `ok` holds (bounded); returns it. */
async function statusUntil(endpoint: string, what: string, ok: (s: LogDestinationSpec) => boolean, ms = 30_000): Promise<LogDestinationSpec> {
  let s: LogDestinationSpec | undefined;
  if (await eventually(async () => (s = await status(endpoint)) !== undefined && ok(s), ms, 100)) return s!;
  throw new Error(`not within ${ms} ms: ${what} (last: ${JSON.stringify(s)})`);
}

beforeAll(async () => {
  if (netnsSkipReason) return;
  work = mkdtempSync(join(tmpdir(), "logship-node-"));
  chmodSync(work, 0o755);
  writeFileSync(join(work, "listener.py"), LISTENER);
  const cluster = generateCluster(50000);
  baseConfig = parse(readFileSync(cluster.controlplane, "utf8"));
  rmSync(cluster.dir, { recursive: true, force: true });
  writeFileSync(join(work, "config.yaml"), stringify(baseConfig));
  const go = join(work, "flood");
  writeFileSync(join(work, "services.json"), JSON.stringify([
    { id: "ticker", argv: ["/bin/sh", "-c", "i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.2; done"] },
    // 20000 lines at once when the test says so: far past a destination's 4096-record queue.
    { id: "flood", argv: ["/bin/sh", "-c", `while [ ! -e ${go} ]; do sleep 0.1; done; seq 1 20000 | sed 's/^/flood /'; exec sleep 100000`] },
  ]));
  nodeNs = new Netns("lsn");
  sinkNs = new Netns("lss");
  const veth = `lsv${process.pid % 100000}`;
  nodeNs.ip("link", "add", veth, "type", "veth", "peer", "name", `${veth}p`, "netns", sinkNs.name);
  nodeNs.ip("addr", "add", `${NODE_IP}/24`, "dev", veth);
  nodeNs.ip("link", "set", veth, "up");
  sinkNs.ip("addr", "add", `${SINK_IP}/24`, "dev", `${veth}p`);
  sinkNs.ip("link", "set", `${veth}p`, "up");
  const state = join(work, "state");
  init = Bun.spawn(["ip", "netns", "exec", nodeNs.name, bin, "init", "--mode=container", "--state-dir", state, "--no-table",
    "--services", join(work, "services.json"), "--config", join(work, "config.yaml")], { stdin: "ignore", stdout: "ignore", stderr: Bun.file(join(work, "init.log")) });
  await until("init's socket", () => existsSync(join(state, "init.sock")), 30_000);
  client = initClient(join(state, "init.sock"));
}, 60_000);

afterAll(async () => {
  for (const l of listeners) l.kill();
  client?.close();
  if (init) {
    init.kill("SIGTERM");
    const t = setTimeout(() => init!.kill("SIGKILL"), 20_000);
    await init.exited;
    clearTimeout(t);
  }
  sinkNs?.delete();
  nodeNs?.delete();
  if (work) rmSync(work, { recursive: true, force: true });
});

test.skipIf(!!netnsSkipReason)("destinations applied live: udp at once, tcp once it listens, drops counted, a removed one gets nothing more", async () => {
  const udp = await listen("udp", 5514);
  await apply(withDestinations(UDP, TCP));

  // UDP: the ticker's lines, each one datagram, naming the node and the service.
  await until("ticker lines over udp", () => udp.records.filter((r) => r.service === "ticker").length >= 3);
  const tick = udp.records.find((r) => r.service === "ticker")!;
  expect(tick.msg).toMatch(/^tick \d+$/);
  expect(tick.stream).toBe("stdout");
  expect(typeof tick.hostname === "string" && tick.hostname.length > 0).toBe(true);
  expect(Number.isNaN(Date.parse(tick.time))).toBe(false);

  // TCP is down: it fails, reports why, and keeps what it holds (not yet dropping).
  let tcp = await statusUntil(TCP, "tcp fails and says so", (s) => s.failures > 0);
  expect(tcp).toMatchObject({ endpoint: TCP, connected: false, sent: 0 });
  expect(tcp.lastError).toContain(TCP);

  // A flood while it is down: the queue keeps its bound and counts what it dropped; init answers meanwhile.
  writeFileSync(join(work, "flood"), "");
  tcp = await statusUntil(TCP, "the flood dropped at the tcp destination", (s) => s.dropped > 0);
  expect(tcp.queued).toBeLessThanOrEqual(4096);
  const v = await client.unary(MachineService.Version, {});
  expect(v.version).toBeTruthy();
  tcp = await statusUntil(TCP, "all 20000 flood lines counted, queued or dropped", (s) => s.dropped + s.queued >= 20000);
  expect(tcp.dropping).toBe(true);
  const said = readFileSync(join(work, "init.log"), "utf8");
  expect(said).toContain(`log destination ${TCP}: dropping records`);

  // It comes back: within the backoff it connects, and lines written after it listens arrive.
  const back = Date.now();
  const tcpSink = await listen("tcp", 5515);
  await until("ticker lines written after the tcp listener started", () => tcpSink.records.some((r) => r.service === "ticker" && Date.parse(r.time) > back), 40_000);
  await statusUntil(TCP, "tcp connected, no longer dropping", (s) => s.connected && !s.dropping);
  expect(readFileSync(join(work, "init.log"), "utf8")).toContain(`log destination ${TCP}: no longer dropping`);

  // Removed from the config (live): its status goes, and it receives nothing more.
  await apply(withDestinations(UDP));
  expect(await status(TCP)).toBeUndefined();
  // What was already on the wire when it was removed may still land: count from a little later.
  const ticks = () => udp.records.filter((r) => r.service === "ticker").length;
  let before = ticks();
  await until("two more ticker lines over udp", () => ticks() >= before + 2);
  const n = tcpSink.records.length;
  before = ticks();
  await until("five more ticker lines over udp", () => ticks() >= before + 5);
  expect(tcpSink.records.length).toBe(n);
}, 180_000);
