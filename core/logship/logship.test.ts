/**
 * Log shipping against real sockets on loopback: a TCP listener that is down at first and comes
 * back, a UDP receiver (one datagram per record), the queue's bound with the destination down,
 * and configure() applied over a running shipper. Records are parsed as JSON on the receiving
 * side.
 */
import { afterEach, expect, test } from "bun:test";
import { createSocket } from "node:dgram";
import { freeLoopbackPort } from "../cluster/container.ts";
import { tcpJsonSink as tcpSink, until } from "../../test/lib/json-lines-sink.ts";
import { Destination, EndpointError, parseEndpoint } from "./destination.ts";
import { encodeRecord, LineSplitter } from "./record.ts";
import { LogShipper } from "./shipper.ts";

const cleanup: (() => unknown)[] = [];
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f(); });


test("lines: split across chunks, CRLF trimmed, an over-long line cut at the bound, the rest flushed", () => {
  const s = new LineSplitter(8);
  const enc = (t: string) => new TextEncoder().encode(t);
  expect(s.push(enc("ab"))).toEqual([]);
  expect(s.push(enc("c\r\nde\n"))).toEqual(["abc", "de"]);
  expect(s.push(enc("0123456789abcdefXY\nz"))).toEqual(["01234567", "89abcdef", "XY"]);
  expect(s.flush()).toBe("z");
  expect(s.flush()).toBeUndefined();
  expect(() => new LineSplitter(0)).toThrow(/maxBytes/);
});

test("a record's JSON names the node, the service, the time and the level where known", () => {
  const r = JSON.parse(encodeRecord({ msg: "hello \"x\"", time: Date.UTC(2026, 0, 2, 3, 4, 5, 6), service: "kernel", level: "warning" }, "node-1"));
  expect(r).toEqual({ msg: "hello \"x\"", time: "2026-01-02T03:04:05.006Z", hostname: "node-1", service: "kernel", level: "warning" });
  expect(JSON.parse(encodeRecord({ msg: "m", time: 0, service: "apid", stream: "stderr" }, "n"))).toEqual({ msg: "m", time: "1970-01-01T00:00:00.000Z", hostname: "n", service: "apid", stream: "stderr" });
});

test("endpoints: udp and tcp with a port; anything else is refused naming the endpoint", () => {
  expect(parseEndpoint("tcp://127.0.0.1:5140")).toMatchObject({ protocol: "tcp", host: "127.0.0.1", port: 5140 });
  expect(parseEndpoint("udp://[::1]:514")).toMatchObject({ protocol: "udp", host: "::1", port: 514 });
  for (const bad of ["http://h:1", "tcp://h", "tcp://h:0", "udp://h:70000", "tcp://h:1/path", "nonsense"]) {
    expect(() => parseEndpoint(bad)).toThrow(EndpointError);
    expect(() => parseEndpoint(bad)).toThrow(`"${bad}"`);
  }
});

test("tcp: a destination down at first gets the lines sent once it is back; failures and the error are reported", async () => {
  const port = await freeLoopbackPort();
  const d = new Destination(`tcp://127.0.0.1:${port}`, { backoffBaseMs: 50, backoffMaxMs: 200 });
  cleanup.push(() => d.close());
  d.enqueue(JSON.stringify({ msg: "before" }));
  await until("a failed connection", () => d.status().failures > 0);
  expect(d.status()).toMatchObject({ connected: false, sent: 0, queued: 1 });
  expect(d.status().lastError).toContain(`tcp://127.0.0.1:${port}`);
  const sink = await tcpSink(port);
  cleanup.push(() => sink.close());
  for (let i = 0; i < 50; i++) d.enqueue(JSON.stringify({ msg: `after ${i}` }));
  await until("51 records received", () => sink.records.length === 51);
  expect(sink.records.map((r) => r.msg)).toEqual(["before", ...Array.from({ length: 50 }, (_, i) => `after ${i}`)]);
  expect(d.status()).toMatchObject({ connected: true, sent: 51, dropped: 0, queued: 0, failures: 0 });
});

test("tcp: the peer going away is noticed, and the next lines reach it when it listens again", async () => {
  const port = await freeLoopbackPort();
  let sink = await tcpSink(port);
  const d = new Destination(`tcp://127.0.0.1:${port}`, { backoffBaseMs: 50, backoffMaxMs: 200 });
  cleanup.push(() => d.close());
  d.enqueue(JSON.stringify({ msg: "one" }));
  await until("first record", () => sink.records.length === 1);
  await sink.close();
  await until("the loss noticed", () => !d.status().connected);
  expect(d.status().lastError).toContain("closed");
  sink = await tcpSink(port);
  cleanup.push(() => sink.close());
  // Records sent before the destination notices the new listener may be lost: keep sending until
  // one arrives.
  let i = 0;
  await until("a record after the restart", () => { d.enqueue(JSON.stringify({ msg: `again ${i++}` })); return sink.records.length > 0; }, 10_000);
  expect(sink.records.length).toBeGreaterThan(0);
  expect(sink.records[0].msg).toMatch(/^again \d+$/);
});

test("the bound: with the destination down, enqueue never waits, the oldest go and are counted", async () => {
  const port = await freeLoopbackPort();
  const d = new Destination(`tcp://127.0.0.1:${port}`, { maxRecords: 100, backoffBaseMs: 1000, backoffMaxMs: 1000 });
  cleanup.push(() => d.close());
  for (let i = 0; i < 10_000; i++) d.enqueue(JSON.stringify({ msg: `r${i}` }));
  // No await between the writes: all of them were taken synchronously, the queue kept its bound.
  expect(d.status()).toMatchObject({ queued: 100, dropped: 9900, sent: 0 });
  const sink = await tcpSink(port);
  cleanup.push(() => sink.close());
  await until("the kept 100 arrive", () => sink.records.length === 100);
  expect(sink.records[0].msg).toBe("r9900");
  expect(sink.records[99].msg).toBe("r9999");
});

test("udp: one datagram per record; the shipper encodes node and service", async () => {
  const got: any[] = [];
  const rx = createSocket("udp4");
  await new Promise<void>((r) => rx.bind(0, "127.0.0.1", () => r()));
  cleanup.push(() => rx.close());
  rx.on("message", (m) => got.push(JSON.parse(m.toString())));
  const ship = new LogShipper(() => "node-x");
  cleanup.push(() => ship.close());
  ship.configure([{ endpoint: `udp://127.0.0.1:${rx.address().port}`, format: "json_lines" }]);
  for (let i = 0; i < 20; i++) ship.send({ msg: `line ${i}`, time: Date.now(), service: "ticker", stream: "stdout" });
  await until("20 datagrams", () => got.length === 20);
  expect(got[0]).toMatchObject({ msg: "line 0", hostname: "node-x", service: "ticker", stream: "stdout" });
  expect(ship.status()).toEqual([expect.objectContaining({ sent: 20, dropped: 0 })]);
});

test("configure applies live: an unchanged endpoint keeps its counters, a removed one stops, a bad one changes nothing", async () => {
  const portA = await freeLoopbackPort();
  const a = await tcpSink(portA);
  cleanup.push(() => a.close());
  const portB = await freeLoopbackPort();
  const b = await tcpSink(portB);
  cleanup.push(() => b.close());
  const ship = new LogShipper(() => "n");
  cleanup.push(() => ship.close());
  const A = { endpoint: `tcp://127.0.0.1:${portA}` };
  const B = { endpoint: `tcp://127.0.0.1:${portB}` };
  ship.configure([A]);
  ship.send({ msg: "1", time: 0, service: "s" });
  await until("A has 1", () => a.records.length === 1);
  ship.configure([A, B]);
  ship.send({ msg: "2", time: 0, service: "s" });
  await until("A 2, B 1", () => a.records.length === 2 && b.records.length === 1);
  expect(ship.status().find((s) => s.endpoint === A.endpoint)!.sent).toBe(2);
  expect(() => ship.configure([{ endpoint: "http://x:1" }])).toThrow(EndpointError);
  expect(() => ship.configure([{ endpoint: A.endpoint, format: "gelf" }])).toThrow(/format "gelf"/);
  expect(ship.status()).toHaveLength(2);
  ship.configure([B]);
  ship.send({ msg: "3", time: 0, service: "s" });
  await until("B 2", () => b.records.length === 2);
  expect(a.records).toHaveLength(2);
  expect(ship.status().map((s) => s.endpoint)).toEqual([B.endpoint]);
  ship.configure([]);
  expect(ship.active).toBe(false);
});
