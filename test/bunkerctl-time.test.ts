/**
 * `bunkerctl time` through the compiled binary's apid (mTLS, node b relayed by node a) in front
 * of stub inits whose TimeStatus the test sets, with a loopback SNTP server whose clock runs a
 * known amount ahead of this machine's: the client's own measurement against that server must
 * show that amount, and a node's fields come through as it published them.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { ResourceService as R } from "../core/api/gen/services.ts";
import { GrpcError, Status } from "../core/grpc/status.ts";
import { TIME_STATUS, type TimeStatusSpec } from "../core/netresources/kinds.ts";
import { encodeReply } from "../core/sntp/packet.ts";
import { ctl, freePort, TestCluster, type RunningApid } from "./lib/remote-cluster.ts";
import type { StubNode } from "./lib/stub-node.ts";

const SKEW_MS = 5000;
const cluster = new TestCluster();
let sntp: { port: number; close(): void };
let queries = 0;
let a: { node: StubNode; apid: RunningApid };
let b: { node: StubNode; apid: RunningApid };
let admin = "";

/** The TimeStatus a stub publishes (undefined: none, as in container mode). */
function publish(node: StubNode, spec: TimeStatusSpec | undefined): void {
  node.server.handle(R.Get, (req) => {
    if (req.type !== TIME_STATUS.type || req.id !== TIME_STATUS.id || spec === undefined) throw new GrpcError(Status.NOT_FOUND, `${req.type} "${req.id}" not found`);
    return { resource: { metadata: { namespace: TIME_STATUS.namespace, type: TIME_STATUS.type, id: TIME_STATUS.id, version: 1, phase: "running" }, specJson: JSON.stringify(spec) } };
  });
}

beforeAll(async () => {
  const sock = await Bun.udpSocket({
    hostname: "127.0.0.1",
    socket: {
      data(s, buf, port, addr) {
        queries++;
        const now = performance.timeOrigin + performance.now() + SKEW_MS;
        s.send(encodeReply(new Uint8Array(buf), now, now), port, addr);
      },
    },
  });
  sntp = { port: sock.port, close: () => sock.close() };
  const sa = await cluster.stub("node-a");
  const sb = await cluster.stub("node-b");
  const portB = await freePort();
  a = { node: sa.node, apid: await cluster.apid("node-a", sa.socket, { members: [`127.0.0.1:${portB}`] }) };
  b = { node: sb.node, apid: await cluster.apid("node-b", sb.socket, { port: portB }) };
  admin = cluster.config("admin", { client: cluster.client(["os:reader"]) }, [a.apid.endpoint]);
}, 30_000);

afterAll(async () => {
  sntp.close();
  await cluster.close();
});

test("each node's time status, and this client's offset from the same server", async () => {
  const server = `127.0.0.1:${sntp.port}`;
  const lastSync = new Date(Date.now() - 30_000).toISOString();
  publish(a.node, { synced: true, server, offsetMs: 12.5, delayMs: 0.4, action: "slew", lastSync });
  publish(b.node, { synced: false, disabled: false, lastError: "time server pool.ntp.org: no answer within 2000 ms" });
  const r = await ctl(admin, "time", "-n", `${a.apid.endpoint},${b.apid.endpoint}`, "-o", "json");
  expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: "" });
  const rows = JSON.parse(r.out);
  expect(rows).toEqual([
    expect.objectContaining({ node: a.apid.endpoint, synced: true, server, offsetMs: 12.5, action: "slew", lastSync, clientOffsetMs: expect.any(Number) }),
    expect.objectContaining({ node: b.apid.endpoint, synced: false, lastError: expect.stringContaining("no answer") }),
  ]);
  // Loopback: what is left of the skew is the scheduling noise of one exchange.
  expect(Math.abs(rows[0].clientOffsetMs - SKEW_MS)).toBeLessThan(250);
  expect(rows[1].clientOffsetMs).toBeUndefined();

  const table = await ctl(admin, "time", "-n", `${a.apid.endpoint},${b.apid.endpoint}`);
  const lines = table.out.trim().split("\n");
  expect(lines[0]).toMatch(/^NODE +SYNCED +SERVER +OFFSET +ACTION +LAST-SYNC +CLIENT-OFFSET +ERROR$/);
  expect(lines[1]).toMatch(new RegExp(`^${a.apid.endpoint.replace(/\./g, "\\.")} +yes +${server.replace(/\./g, "\\.")} +\\+12\\.5ms +slew +3\\ds ago +\\+(49|50|51)\\d\\d\\.\\dms`));
  expect(lines[2]).toMatch(/ no +- +- +- +- +- +time server pool\.ntp\.org: no answer/);
});

test("nodes that share a server: the client asks it once", async () => {
  const server = `127.0.0.1:${sntp.port}`;
  for (const n of [a.node, b.node]) publish(n, { synced: true, server, offsetMs: 1, action: "slew", lastSync: new Date().toISOString() });
  const before = queries;
  const r = await ctl(admin, "time", "-n", `${a.apid.endpoint},${b.apid.endpoint}`, "-o", "json");
  expect(r.code).toBe(0);
  expect(JSON.parse(r.out).map((x: { clientOffsetMs: number }) => Math.abs(x.clientOffsetMs - SKEW_MS) < 250)).toEqual([true, true]);
  expect(queries - before).toBe(1);
});

test("a server the client cannot reach shows why; --no-client-check asks none; no time status is an error naming the node", async () => {
  const closed = `127.0.0.1:${await freePort()}`;
  publish(a.node, { synced: true, server: closed, offsetMs: -3, action: "none", lastSync: new Date().toISOString() });
  const r = await ctl(admin, "time", "-n", a.apid.endpoint, "-o", "json");
  expect(r.code).toBe(0);
  expect(JSON.parse(r.out)[0].clientError).toMatch(new RegExp(`^time server ${closed}: `));
  const quiet = await ctl(admin, "time", "-n", a.apid.endpoint, "--no-client-check", "-o", "json");
  expect(JSON.parse(quiet.out)[0]).not.toHaveProperty("clientError");
  publish(b.node, undefined);
  const none = await ctl(admin, "time", "-n", b.apid.endpoint);
  expect(none.code).toBe(1);
  expect(none.err).toContain(`${b.apid.endpoint}: the node publishes no time status: networkd does not run there`);
});
