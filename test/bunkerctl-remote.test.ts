/**
 * Every remote bunkerctl command through the compiled binary, against the binary's apid over
 * mTLS in front of stub inits: what it prints (tables, json, yaml), streams, relaying to a
 * second node with -n, several nodes in one call, waits, and the errors that say what to do.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import type { StubNode } from "./lib/stub-node.ts";
import { ctl, freePort, TestCluster, type RunningApid } from "./lib/remote-cluster.ts";

const cluster = new TestCluster();
let a: { node: StubNode; apid: RunningApid };
let b: { node: StubNode; apid: RunningApid };
let maint: { node: StubNode; apid: RunningApid };
let admin = "";
let twoNodes = "";

beforeAll(async () => {
  const sa = await cluster.stub("node-a");
  const sb = await cluster.stub("node-b");
  const sm = await cluster.stub("fresh");
  // A relays to B, and to 127.0.0.1:1: a member that is down.
  const portB = await freePort();
  a = { node: sa.node, apid: await cluster.apid("node-a", sa.socket, { members: [`127.0.0.1:${portB}`, "127.0.0.1:1"] }) };
  b = { node: sb.node, apid: await cluster.apid("node-b", sb.socket, { port: portB }) };
  maint = { node: sm.node, apid: await cluster.apid("fresh", sm.socket, { maintenance: true }) };
  const cert = cluster.client(["os:admin"]);
  admin = cluster.config("admin", { client: cert }, [a.apid.endpoint]);
  twoNodes = cluster.config("admin-ab", { client: cert }, [a.apid.endpoint], [a.apid.endpoint, b.apid.endpoint]);
}, 30_000);

afterAll(() => cluster.close());

const table = (out: string) => out.trimEnd().split("\n").map((l) => l.split(/\s{2,}/));

test("version: a table with the node's name, json, and the client's own without any node", async () => {
  const r = await ctl(admin, "version");
  expect(r).toMatchObject({ code: 0, err: "" });
  expect(table(r.out)).toEqual([
    ["NODE", "VERSION", "COMMIT", "BUN", "ARCH", "KERNEL", "HOSTNAME", "MAINTENANCE"],
    [a.apid.endpoint, "0.1.0", "abc123", "1.4.5", "x64", "6.1.0", "node-a", "no"],
  ]);
  const j = JSON.parse((await ctl(admin, "version", "-o", "json")).out);
  expect(j).toEqual([expect.objectContaining({ node: a.apid.endpoint, hostname: "node-a", version: "0.1.0" })]);
  const c = await ctl(undefined, "version", "--client");
  expect(c.code).toBe(0);
  expect(c.out).toStartWith("Client: Bunker 0.1.0 (commit ");
}, 30_000);

test("-n relays through the endpoint: one row per node, each answered by its own node", async () => {
  const r = await ctl(twoNodes, "version", "-o", "json");
  expect(r.code).toBe(0);
  expect(JSON.parse(r.out).map((x: { node: string; hostname: string }) => [x.node, x.hostname])).toEqual([[a.apid.endpoint, "node-a"], [b.apid.endpoint, "node-b"]]);
  const before = b.node.count("ServiceList");
  const s = await ctl(admin, "services", "-n", b.apid.endpoint);
  expect(s.code).toBe(0);
  expect(table(s.out)[1]).toEqual([b.apid.endpoint, "apid", "Running", "OK", "101", "0"]);
  expect(b.node.count("ServiceList")).toBe(before + 1);
}, 30_000);

test("services and service ID: aligned table, status with events, start/stop/restart, unknown id", async () => {
  const r = await ctl(admin, "services");
  expect(r.out).toBe([
    "NODE              SERVICE    STATE     HEALTH   PID   RESTARTS",
    `${a.apid.endpoint.padEnd(15)}   apid       Running   OK       101   0`,
    `${a.apid.endpoint.padEnd(15)}   networkd   Running   ?        102   1`,
    "",
  ].join("\n"));
  const st = await ctl(admin, "service", "apid");
  expect(st.code).toBe(0);
  expect(st.out).toContain("STATE      Running");
  expect(st.out).toContain("2023-11-14T22:13:21Z  Running    process started");
  for (const action of ["start", "stop", "restart"]) {
    const x = await ctl(admin, "service", "networkd", action);
    expect(x).toMatchObject({ code: 0, out: `${a.apid.endpoint}: networkd: service ${action === "stop" ? "stopped" : `${action}ed`}\n` });
  }
  const missing = await ctl(admin, "service", "nope", "restart");
  expect(missing.code).toBe(1);
  expect(missing.err).toContain(`NOT_FOUND: service "nope" is not known`);
  const bad = await ctl(admin, "service", "apid", "explode");
  expect(bad.code).toBe(2);
  expect(bad.err).toContain('unknown action "explode"');
}, 30_000);

test("logs: --tail, -f until interrupted by the stream's end, json lines, and several nodes prefixed", async () => {
  expect((await ctl(admin, "logs", "apid", "--tail", "2")).out).toBe("node-a line 4\nnode-a line 5\n");
  const both = await ctl(twoNodes, "logs", "apid", "--tail", "1");
  expect(both.out.split("\n").filter(Boolean).sort()).toEqual([`${a.apid.endpoint}: node-a line 5`, `${b.apid.endpoint}: node-b line 5`].sort());
  const j = (await ctl(admin, "logs", "apid", "--tail", "1", "-o", "json")).out.trim();
  expect(JSON.parse(j)).toMatchObject({ node: a.apid.endpoint, message: "node-a line 5", stream: "stdout" });
  // -f: new lines as they come, no deadline (--timeout is for calls that end); this node's
  // stream ends after 5 lines.
  const f = await ctl(admin, "logs", "apid", "-f", "--tail", "0", "--timeout", "100ms");
  expect(f).toMatchObject({ code: 0, out: [1, 2, 3, 4, 5].map((i) => `node-a follow ${i}\n`).join("") });
  const missing = await ctl(admin, "logs", "nope");
  expect(missing.code).toBe(1);
  expect(missing.err).toContain('no log for service "nope"');
}, 30_000);

test("dmesg and events (--since)", async () => {
  const d = await ctl(admin, "dmesg");
  expect(d.out).toBe("[    1.500000] info    Linux version 6.1.0\n[    2.250000] warning virtio_net: link up\n");
  const e = await ctl(admin, "events", "--since", "0000000001");
  expect(e.out.trim().split("\n").map((l) => l.split(/\s+/)[0])).toEqual(["0000000002", "0000000003"]);
  expect(e.out).toContain("sequencer        phase 2");
}, 30_000);

test("get: the type's columns, get TYPE ID, yaml and json with the spec as data, rd, -w", async () => {
  const g = await ctl(admin, "get", "machinestatus");
  expect(table(g.out)).toEqual([["NODE", "NAMESPACE", "TYPE", "ID", "VERSION", "STAGE", "READY"], [a.apid.endpoint, "runtime", "MachineStatus", "machine", "3", "running", "true"]]);
  const y = await ctl(admin, "get", "ms", "machine", "-o", "yaml");
  expect(y.out).toContain("spec:\n  stage: running\n  ready: true\n");
  expect(y.out).toContain("type: MachineStatuses.runtime.bunker.dev");
  const j = JSON.parse((await ctl(admin, "get", "machinestatus", "-o", "json")).out);
  expect(j[0].spec).toEqual({ stage: "running", ready: true, unmetConditions: [] });
  const rd = await ctl(admin, "get", "rd");
  expect(rd.out).toContain("ResourceDefinitions.meta.bunker.dev");
  expect(rd.out).toContain("machinestatus,machinestatuses,ms");
  const w = await ctl(admin, "get", "machinestatus", "-w", "-o", "json", "--timeout", "5s");
  expect(w.code).toBe(0);
  expect(w.out.trim().split("\n").map((l) => JSON.parse(l).event)).toEqual(["created", "updated"]);
  const unknown = await ctl(admin, "get", "toasters");
  expect(unknown.code).toBe(1);
  expect(unknown.err).toContain('resource type "toasters" is not registered');
}, 30_000);

test("apply-config: modes, dry run with diff and changes, errors from the node, missing file", async () => {
  const file = join(cluster.dir, "worker.yaml");
  writeFileSync(file, "version: v1alpha1\nmachine:\n  type: worker\n");
  const dry = await ctl(admin, "apply-config", "-f", file, "--dry-run");
  expect(dry.code).toBe(0);
  expect(dry.out).toContain(`${a.apid.endpoint}: dry run: 1 change, applies live`);
  expect(dry.out).toContain("machine.network.hostname   changed   live");
  expect(dry.out).toContain("+  hostname: b");
  const tried = await ctl(admin, "apply-config", "-f", file, "--mode", "try", "--try-timeout", "2m", "-o", "json");
  expect(JSON.parse(tried.out)[0]).toMatchObject({ mode: "try", tryDeadline: "2023-11-14T22:14:20Z" });
  expect(a.node.calls.at(-1)!.request).toMatchObject({ mode: 4, tryTimeoutSeconds: 120 });
  expect((await ctl(admin, "confirm")).out).toBe(`${a.apid.endpoint}: configuration confirmed\n`);
  writeFileSync(file, "machine: {}\n");
  const bad = await ctl(admin, "apply-config", "-f", file);
  expect(bad.code).toBe(1);
  expect(bad.err).toContain("INVALID_ARGUMENT: machine config line 1:1");
  expect((await ctl(admin, "apply-config", "-f", join(cluster.dir, "nope.yaml"))).code).toBe(2);
  expect((await ctl(admin, "apply-config", "-f", file, "--mode", "sideways")).code).toBe(2);
  expect((await ctl(admin, "apply-config", "-f", file, "--try-timeout", "1m")).code).toBe(2);
}, 30_000);

test("apply-config --insecure to a node in maintenance mode; the same node refuses what maintenance does not allow", async () => {
  const file = join(cluster.dir, "fresh.yaml");
  writeFileSync(file, "version: v1alpha1\nmachine:\n  type: worker\n");
  const r = await ctl(undefined, "apply-config", "--insecure", "-n", maint.apid.endpoint, "-f", file);
  expect(r).toMatchObject({ code: 0, err: "" });
  expect(maint.node.calls.at(-1)).toMatchObject({ method: "ApplyConfiguration", roles: "" });
  const disks = await ctl(undefined, "disks", "--insecure", "-n", maint.apid.endpoint);
  expect(table(disks.out)[1]).toEqual([maint.apid.endpoint, "/dev/vda", "QEMU HARDDISK", "S123", "virtio", "20 GiB", "no", "*"]);
  const svc = await ctl(undefined, "services", "--insecure", "-n", maint.apid.endpoint);
  expect(svc.code).toBe(5);
  expect(svc.err).toContain("not available in maintenance mode");
}, 30_000);

test("reboot (--wait until a new boot is ready), shutdown, reset with its flags", async () => {
  a.node.rebootDelayMs = 1500;
  const r = await ctl(admin, "reboot", "--wait", "--wait-timeout", "20s");
  expect(r.code).toBe(0);
  expect(r.out).toStartWith(`${a.apid.endpoint}: rebooting\n`);
  expect(r.out).toContain("booting: waiting for network (no address yet)");
  expect(r.out).toEndWith(`${a.apid.endpoint}: back: running: ready\n`);
  expect((await ctl(admin, "reboot", "--mode", "powercycle")).code).toBe(0);
  expect(a.node.calls.filter((c) => c.method === "Reboot").at(-1)!.request).toMatchObject({ mode: 1 });
  expect((await ctl(admin, "shutdown", "--force")).out).toBe(`${a.apid.endpoint}: shutting down\n`);
  const reset = await ctl(admin, "reset", "--graceful", "--wipe", "state", "--reboot");
  expect(reset.out).toBe(`${a.apid.endpoint}: resetting (STATE), then reboot\n`);
  expect(a.node.calls.at(-1)).toMatchObject({ method: "Reset", request: { graceful: true, reboot: true, wipeVolumes: ["STATE"] } });
  expect((await ctl(admin, "reset", "--wipe", "BOOT")).code).toBe(2);
}, 40_000);

test("health: progress while not ready, 0 when ready, 6 when the wait runs out", async () => {
  b.node.machine = { ...b.node.machine, stage: "booting", ready: false, unmetConditions: [{ name: "time", reason: "not synced" }] };
  const cfgB = cluster.config("admin-b", { client: cluster.client(["os:admin"]) }, [b.apid.endpoint]);
  const timeout = await ctl(cfgB, "health", "--wait-timeout", "1500ms");
  expect(timeout.code).toBe(6);
  expect(timeout.out).toBe(`${b.apid.endpoint}: booting: waiting for time (not synced)\n`);
  setTimeout(() => { b.node.machine = { ...b.node.machine, stage: "running", ready: true, unmetConditions: [] }; }, 1000);
  const ok = await ctl(cfgB, "health", "--wait-timeout", "20s");
  expect(ok.code).toBe(0);
  expect(ok.out).toBe(`${b.apid.endpoint}: booting: waiting for time (not synced)\n${b.apid.endpoint}: running: ready\n`);
}, 40_000);

test("memory, ps, mounts, netstat, disks: tables and bytes in json", async () => {
  const m = await ctl(admin, "memory");
  expect(table(m.out)[1]).toEqual([a.apid.endpoint, "8 GiB", "2 GiB", "2 GiB", "6 GiB", "1 MiB", "1 GiB", "0 B", "0 B/0 B"]);
  expect(JSON.parse((await ctl(admin, "memory", "-o", "json")).out)[0]).toMatchObject({ total: 8 * 2 ** 30, available: 6 * 2 ** 30 });
  const ps = await ctl(admin, "ps", "--sort", "cpu");
  expect(table(ps.out).slice(1).map((r) => r[1])).toEqual(["101", "1"]);
  expect(ps.out).toContain("apid --listen 0.0.0.0:50000");
  const mounts = await ctl(admin, "mounts");
  expect(table(mounts.out)[1]).toEqual([a.apid.endpoint, "/dev/vda4", "/var", "xfs", "10 GiB", "5 GiB", "50%"]);
  const ns = await ctl(admin, "netstat", "-l", "-t", "-p");
  expect(table(ns.out)).toEqual([["NODE", "PROTO", "RECV-Q", "SEND-Q", "LOCAL", "REMOTE", "STATE", "PID/PROGRAM"], [a.apid.endpoint, "tcp", "0", "0", "0.0.0.0:50000", "0.0.0.0:*", "LISTEN", "101/apid"]]);
  expect(a.node.calls.at(-1)!.request).toMatchObject({ filter: 1, protocols: ["tcp", "tcp6"], pid: true });
  const yaml = await ctl(admin, "disks", "-o", "yaml");
  expect(yaml.out).toContain("devPath: /dev/vda\n");
}, 30_000);

test("ls and read: long listing, a refused root, bytes as they are, one node only", async () => {
  const ls = await ctl(admin, "ls", "/var", "-l");
  expect(table(ls.out).slice(1).map((r) => [r[1], r[4], r[6]])).toEqual([["drwxr-xr-x", "4096", "log"], ["-rw-r--r--", "1234", "log/boot.log"]]);
  const outside = await ctl(admin, "ls", "/root");
  expect(outside.code).toBe(5);
  expect(outside.err).toContain("outside the allowed roots");
  expect((await ctl(admin, "read", "/etc/hostname")).out).toBe("node-a\n");
  const two = await ctl(twoNodes, "read", "/etc/hostname");
  expect(two.code).toBe(2);
  expect((await ctl(admin, "read", "/etc/shadow")).code).toBe(1);
}, 30_000);

test("a node that accepts connections but never answers: --timeout bounds calls and the start of -f streams", async () => {
  const held: net.Socket[] = [];
  const silent = net.createServer((sock) => held.push(sock));
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
  const where = `127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
  try {
    for (const args of [["version"], ["logs", "apid", "-f"], ["get", "machinestatus", "-w"]]) {
      const r = await ctl(admin, ...args, "-e", where, "--timeout", "1s");
      expect({ args, code: r.code, err: r.err }).toEqual({ args, code: 4, err: expect.stringContaining("no answer in time") });
    }
  } finally {
    for (const sock of held) sock.destroy();
    silent.close();
  }
}, 30_000);

test("errors that say what to do: no config, no context, no certificate, endpoint down, bad flags", async () => {
  const none = await ctl(join(cluster.dir, "missing"), "version");
  expect(none.code).toBe(3);
  expect(none.err).toContain("bunkerctl gen config");
  const nocert = await ctl(cluster.config("nocert", {}, [a.apid.endpoint]), "version");
  expect(nocert.code).toBe(3);
  expect(nocert.err).toContain("has no client certificate: generate one with \"bunkerctl gen config\"");
  expect(nocert.err).toContain("--insecure");
  const ctx = await ctl(admin, "version", "--context", "other");
  expect(ctx.code).toBe(3);
  expect(ctx.err).toContain('no context "other"');
  const down = await ctl(admin, "version", "-e", "127.0.0.1:1");
  expect(down.code).toBe(4);
  expect(down.err).toContain("connection refused");
  expect(down.err).toContain("is the node up, and is the endpoint right");
  // The first endpoint is down: the next one answers.
  const failover = await ctl(admin, "version", "-e", `127.0.0.1:1,${a.apid.endpoint}`, "-o", "json");
  expect(failover.code).toBe(0);
  expect(JSON.parse(failover.out)[0].hostname).toBe("node-a");
  expect((await ctl(admin, "version", "--timeout", "soon")).code).toBe(2);
  expect((await ctl(admin, "version", "-o", "xml")).code).toBe(2);
  expect((await ctl(admin, "services", "--bogus")).code).toBe(2);
  // One node down among several: the others' rows still print, the exit code says it failed.
  const partial = await ctl(admin, "version", "-n", `${a.apid.endpoint},127.0.0.1:1`, "-o", "json");
  expect(partial.code).toBe(4);
  expect(JSON.parse(partial.out).map((x: { hostname: string }) => x.hostname)).toEqual(["node-a"]);
}, 40_000);
