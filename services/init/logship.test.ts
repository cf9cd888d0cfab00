/**
 * init's log shipping on real sockets (loopback): a service's chunks become one record per line,
 * the kernel's log (/dev/kmsg, as root) is shipped with its level, the LogDestinationStatus
 * resource follows the counters, and dropping is said once when it starts and once when it stops.
 * The whole node (compiled binary, destinations in another network namespace, applied live) is
 * test/logship-node.test.ts.
 */
import { afterEach, expect, test } from "bun:test";
import { openSync, writeSync, closeSync } from "node:fs";
import { freeLoopbackPort } from "../../core/cluster/container.ts";
import { tcpJsonSink, until } from "../../test/lib/json-lines-sink.ts";
import { Store } from "../../core/resources/index.ts";
import { LogShipping, type LogDestinationSpec } from "./logship.ts";
import { LOG_DESTINATIONS, registerInitDefinitions } from "./resources.ts";

const cleanup: (() => unknown)[] = [];
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f(); });


async function sink(port: number): Promise<any[]> {
  const s = await tcpJsonSink(port);
  cleanup.push(() => s.close());
  return s.records;
}

function shipping(o: { kmsgPath?: string; maxRecords?: number } = {}) {
  const store = new Store();
  registerInitDefinitions(store);
  const said: string[] = [];
  const ls = new LogShipping({
    store, hostname: () => "node-7", kmsgPath: o.kmsgPath, publishMs: 60_000,
    log: { info: (m) => said.push(`info: ${m}`), warn: (m) => said.push(`warn: ${m}`) },
    destination: { backoffBaseMs: 50, backoffMaxMs: 200, maxRecords: o.maxRecords },
  });
  cleanup.push(() => ls.stop());
  const cfg = (...endpoints: string[]) => ({ machine: { logging: { destinations: endpoints.map((endpoint) => ({ endpoint, format: "json_lines" })) } } });
  return { store, ls, said, cfg };
}

test("a service's chunks: one record per line, cut across chunks, with the node, service and stream", async () => {
  const port = await freeLoopbackPort();
  const got = await sink(port);
  const { ls, cfg, store } = shipping();
  const enc = (t: string) => new TextEncoder().encode(t);
  ls.serviceOutput("web", enc("not shipped: no destination yet\n"), "stdout");
  ls.configure(cfg(`tcp://127.0.0.1:${port}`));
  ls.serviceOutput("web", enc("hello wo"), "stdout", Date.UTC(2026, 5, 1));
  ls.serviceOutput("web", enc("rld\nsecond\n"), "stdout", Date.UTC(2026, 5, 1));
  ls.serviceOutput("web", enc("oops\n"), "stderr", Date.UTC(2026, 5, 1));
  await until("3 records", () => got.length === 3);
  expect(got).toEqual([
    { msg: "hello world", time: "2026-06-01T00:00:00.000Z", hostname: "node-7", service: "web", stream: "stdout" },
    { msg: "second", time: "2026-06-01T00:00:00.000Z", hostname: "node-7", service: "web", stream: "stdout" },
    { msg: "oops", time: "2026-06-01T00:00:00.000Z", hostname: "node-7", service: "web", stream: "stderr" },
  ]);
  ls.publish();
  expect(store.get<LogDestinationSpec>({ ...LOG_DESTINATIONS, id: `tcp://127.0.0.1:${port}` })!.spec).toMatchObject({ connected: true, sent: 3, dropped: 0, dropping: false });
  // Removed from the config: its status goes too.
  ls.configure({ machine: {} });
  expect(store.list(LOG_DESTINATIONS)).toEqual([]);
});

test.skipIf(process.getuid?.() !== 0)("the kernel's log (/dev/kmsg) is shipped as service kernel with its level", async () => {
  const port = await freeLoopbackPort();
  const got = await sink(port);
  const { ls, cfg } = shipping({ kmsgPath: "/dev/kmsg" });
  ls.configure(cfg(`tcp://127.0.0.1:${port}`));
  const marker = `logship-test-${process.pid}-${Date.now()}`;
  const fd = openSync("/dev/kmsg", "w");
  try { writeSync(fd, `<4>${marker}\n`); } finally { closeSync(fd); }
  await until("the marker shipped", () => got.some((r) => r.msg === marker));
  const r = got.find((x) => x.msg === marker);
  expect(r).toMatchObject({ service: "kernel", level: "warning", hostname: "node-7" });
  // Its time is the wall clock of the write, from the record's monotonic stamp (a loaded machine is slow: a minute's slack).
  expect(Math.abs(Date.parse(r.time) - Date.now())).toBeLessThan(60_000);
});

test("drops with the destination down: counted in the resource, said once when they start and once when they stop", async () => {
  const port = await freeLoopbackPort();
  const { ls, cfg, store, said } = shipping({ maxRecords: 10 });
  const endpoint = `tcp://127.0.0.1:${port}`;
  ls.configure(cfg(endpoint));
  const line = new TextEncoder().encode("x\n");
  for (let i = 0; i < 25; i++) ls.serviceOutput("svc", line, "stdout");
  ls.publish(1_000_000);
  ls.publish(1_000_500); // no new drops, but within the same second: still one "stopped" at most
  for (let i = 0; i < 25; i++) ls.serviceOutput("svc", line, "stdout");
  ls.publish(1_001_000); // dropping again within 30 s: not said again
  const spec = store.get<LogDestinationSpec>({ ...LOG_DESTINATIONS, id: endpoint })!.spec;
  expect(spec).toMatchObject({ dropped: 40, queued: 10, sent: 0, dropping: true });
  const warns = said.filter((s) => s.startsWith("warn:"));
  expect(warns).toHaveLength(1);
  expect(warns[0]).toStartWith(`warn: log destination ${endpoint}: dropping records (its queue is full`);
  expect(said.filter((s) => s.startsWith("info:"))).toEqual([`info: log destination ${endpoint}: no longer dropping (15 dropped since it started, 15 in all)`]);
  // It comes back: the queue drains, and the next quiet second says it stopped.
  const got = await sink(port);
  await until("the 10 kept arrive", () => got.length === 10);
  ls.publish(1_040_000);
  expect(store.get<LogDestinationSpec>({ ...LOG_DESTINATIONS, id: endpoint })!.spec).toMatchObject({ connected: true, sent: 10, dropped: 40, queued: 0, dropping: false });
  expect(said.filter((s) => s.startsWith("info:"))).toHaveLength(1); // the second episode was not announced, so no "stopped" either
});
