import { expect, test } from "bun:test";
import { paint, plain, render, wantColor, type Snapshot } from "./render.ts";

const GiB = 2 ** 30;
const snap: Snapshot = {
  nodes: ["10.5.0.2", "10.5.0.3"], node: 0,
  hostname: "cp1", version: "0.1.0", stage: "running", ready: false,
  unmet: [{ name: "etcd", reason: "waiting for bootstrap" }],
  addresses: [{ link: "eth0", address: "10.5.0.2/24" }],
  routes: [{ dst: "0.0.0.0/0", gateway: "10.5.0.1", link: "eth0" }, { dst: "10.5.0.0/24", link: "eth0" }],
  cpus: 2, cpuPercent: 3.4, load: [0.12, 0.05, 0.01], memory: { total: 2 * GiB, available: 1.5 * GiB },
  services: [
    { id: "networkd", state: "Running", health: "?", restarts: 0 },
    { id: "apid", state: "Running", health: "OK", restarts: 0 },
    { id: "trustd", state: "Failed", health: "?", restarts: 3 },
    { id: "dashboard", state: "Running", health: "?", restarts: 0 },
    { id: "etcd", state: "Waiting", health: "?", restarts: 0 },
  ],
  logSource: "kernel",
  log: Array.from({ length: 30 }, (_, i) => `[    ${i}.000000] line ${i}`),
  at: Date.UTC(2026, 11, 4, 20, 1, 2),
};

test("80x25: every row, exactly", () => {
  const lines = render(snap, 80, 25).map(plain);
  const tail = Array.from({ length: 13 }, (_, i) => `[    ${i + 17}.000000] line ${i + 17}`);
  expect(lines).toEqual([
    " 10.5.0.2 (1/2)                                         [ ] node  l log  q quit ",
    "host cp1  version 0.1.0  stage running  not ready",
    "waiting for: etcd (waiting for bootstrap)",
    "cpu 2x 3%  load 0.12 0.05 0.01  mem 512 MiB / 2 GiB (25%)",
    "addresses: eth0 10.5.0.2/24",
    "routes: default via 10.5.0.1 eth0, 10.5.0.0/24 eth0",
    "-- services --------------------------------------------------------------------",
    "networkd    Running                     apid        Running OK",
    "trustd      Failed r3                   dashboard   Running",
    "etcd        Waiting",
    "-- log: kernel -----------------------------------------------------------------",
    ...tail,
    "20:01:02 UTC  updated",
  ]);
  for (const l of lines) expect(l.length).toBeLessThanOrEqual(80);
});

test("many services give the log pane a third of the screen and count the rest", () => {
  const services = Array.from({ length: 30 }, (_, i) => ({ id: `svc${i}`, state: "Running", health: "?", restarts: 0 }));
  const lines = render({ ...snap, services, log: [] }, 80, 25).map(plain);
  expect(lines).toHaveLength(25);
  const logRule = lines.findIndex((l) => l.startsWith("-- log: kernel"));
  expect(25 - 1 - logRule - 1).toBeGreaterThanOrEqual(8);
  expect(lines[logRule - 1]).toMatch(/^svc\d+ +Running +\+\d+ more$/);
  const more = Number(/\+(\d+) more/.exec(lines[logRule - 1]!)![1]);
  const shown = lines.slice(7, logRule).join(" ").match(/svc\d+/g)!.length;
  expect(shown + more).toBe(30);
});

test("long lines are cut to the width and control characters cannot move the cursor", () => {
  const lines = render({ ...snap, log: [`evil \x1b[2J${"x".repeat(200)}`], unmet: [], ready: true }, 80, 25).map(plain);
  expect(lines.every((l) => l.length <= 80)).toBe(true);
  expect(lines.join("\n")).not.toContain("\x1b");
  expect(lines).toContain(`evil ?[2J${"x".repeat(71)}`);
  expect(lines[1]).toEndWith("stage running  ready");
  expect(lines[2]).toBe("conditions: all met");
});

test("a failed refresh is on the status line; no services and no routes say so", () => {
  const lines = render({ ...snap, nodes: ["n"], services: [], routes: [], addresses: [], error: "version: deadline exceeded" }, 80, 25).map(plain);
  expect(lines[0]).toBe(` n${" ".repeat(80 - 2 - 14)}l log  q quit `);
  // On the node's own screen q does not quit, and is not offered.
  expect(plain(render({ ...snap, nodes: ["this node"], noQuit: true }, 80, 25)[0]!)).toBe(` this node${" ".repeat(80 - 10 - 6)}l log `);
  expect(lines).toContain("no services");
  expect(lines).toContain("routes: none");
  expect(lines).toContain("addresses: none");
  expect(lines[24]).toBe("20:01:02 UTC  error: version: deadline exceeded");
});

test("colour is a layer: the same text with and without, escapes only with", () => {
  const lines = render(snap, 80, 25);
  for (const l of lines) expect(paint(l, false)).toBe(plain(l));
  const coloured = lines.map((l) => paint(l, true));
  expect(coloured[0]).toStartWith("\x1b[7m");
  expect(coloured.join("\n")).toContain("\x1b[31mnot ready\x1b[0m");
  expect(coloured.map((l) => l.replace(/\x1b\[\d+m/g, ""))).toEqual(lines.map(plain));
});

test("no colour with NO_COLOR, a dumb, unknown or unset TERM", () => {
  expect(wantColor({ TERM: "xterm-256color" })).toBe(true);
  expect(wantColor({ TERM: "linux" })).toBe(true);
  expect(wantColor({ TERM: "xterm", NO_COLOR: "1" })).toBe(false);
  expect(wantColor({ TERM: "dumb" })).toBe(false);
  expect(wantColor({ TERM: "unknown" })).toBe(false);
  expect(wantColor({})).toBe(false);
});

test("other sizes: exactly the rows asked, none wider than the columns", () => {
  for (const [w, h] of [[132, 43], [40, 12], [80, 24]] as const) {
    const lines = render(snap, w, h).map(plain);
    expect(lines).toHaveLength(h);
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(w);
  }
});
