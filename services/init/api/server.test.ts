/**
 * init's API over gRPC on its unix socket, served by a Machine in this process: the contract
 * adapters, streaming, status codes, apply-config modes, and who may call (SO_PEERCRED).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Machine, type PowerRequest } from "../machine.ts";
import { getSpec, initClient } from "./client.ts";
import { createHandlers } from "./handlers.ts";
import { serveApi } from "./server.ts";
import { machineServiceImpl, resourceServiceImpl } from "./contract.ts";
import { MachineService, ResourceService } from "../../../core/api/gen/services.ts";
import type { GrpcClient } from "../../../core/grpc/client.ts";
import type { GrpcServer } from "../../../core/grpc/server.ts";
import { INTERNAL_MESSAGE, Status } from "../../../core/grpc/status.ts";
import { bunker } from "../../../core/api/gen/api.js";
import { spawnTracked } from "../children.ts";
import { SEQUENCES, type MachineStatusSpec, type SequenceSpec } from "../resources.ts";
import { edit, fixture } from "../../../core/config/testdata/fixtures.ts";
import { discoverDisks } from "../../../core/disks/disk.ts";
import { createServer } from "node:net";
import { cpus } from "node:os";
import { rejection } from "../../../test/lib/rejection.ts";
import { ManualClock } from "../../../core/time/clock.ts";
import { eventually } from "../../../test/lib/eventually.ts";

/** A valid worker config, and the same with a hostname (applies live) or another cluster secret (needs a reboot). */
const worker = fixture("worker.yaml");
const withHostname = (h: string, text = worker) => edit(text, "  network:\n", `  network:\n    hostname: ${h}\n`);
const withSecret = (text = worker) => edit(text, "secret: ZSQRDlAxLSw4TsNxYzfEZdNERLQFc7MNcssRSWwKDrI=", "secret: c2Vjb25kIHNlY3JldCBvZiB0aGlydHktdHdvIGJ5dGU=");
const REBOOT_PATH = "cluster.secret";

const APID_UID = 50;
let dir = "";
let machine: Machine;
let server: GrpcServer;
let client: GrpcClient;
const powered: PowerRequest[] = [];
const enc = (s: string) => new TextEncoder().encode(s);
const apply = (data: string, o: { mode?: number; dryRun?: boolean; tryTimeoutSeconds?: number } = {}) => client.unary(MachineService.ApplyConfiguration, { data: enc(data), ...o });
const M = bunker.machine.v1.ApplyMode;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "bunker-api-"));
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, "svc.yaml"), JSON.stringify([
    { id: "echo", argv: ["/bin/sh", "-c", "for i in 1 2 3; do echo line$i; done; exec sleep 1000"] },
    { id: "tick", argv: ["/bin/sh", "-c", "echo first; sleep 0.3; echo second >&2; exec sleep 1000"] },
  ]));
  machine = new Machine({
    mode: "container", stateDir: dir, runDir: dir, servicesFile: join(dir, "svc.yaml"), noTable: true,
    onPower: (a) => powered.push(a),
    startApi: async () => {
      server = await serveApi({
        path: machine.socketPath, handlers: createHandlers(machine), socketGid: APID_UID,
        trust: { adminUids: new Set([0, process.getuid?.() ?? 0]), apidUid: APID_UID, maintenance: () => machine.maintenanceOpen() },
      });
    },
  });
  await machine.boot();
  client = initClient(machine.socketPath);
});

afterAll(async () => {
  client?.close();
  await server?.close();
  await machine?.supervisor.stopAll();
  machine?.stopBackground();
  rmSync(dir, { recursive: true, force: true });
});

test("logs: tail then follow a service's output", async () => {
  expect(await eventually(() => machine.supervisor.logs("echo").tail(3).includes("line3"))).toBe(true);
  const got = await Array.fromAsync(client.stream(MachineService.Logs, { id: "echo", tail: 2 }));
  expect(got.map((e) => e.message)).toEqual(["line2", "line3"]);
  const followed: string[] = [];
  const done = (async () => {
    for await (const e of client.stream(MachineService.Logs, { id: "echo", tail: 1, follow: true })) {
      followed.push(e.message ?? "");
      if (e.message === "extra") break; // leaving the loop cancels the call
    }
  })();
  // The tail's line has arrived once the server is following: what is written now must come next.
  expect(await eventually(() => followed.length > 0)).toBe(true);
  machine.supervisor.logs("echo").write(enc("extra\n"));
  await done;
  expect(followed).toEqual(["line3", "extra"]);
});

test("logs: each line carries when it was written and from which stream, not when it was read", async () => {
  expect(await eventually(() => machine.supervisor.logs("tick").tail(2).includes("second"))).toBe(true);
  // Real time must pass between the write and the read for the stamps to tell them apart.
  await Bun.sleep(200);
  const got = await Array.fromAsync(client.stream(MachineService.Logs, { id: "tick", tail: 2 }));
  expect(got.map((e) => [e.message, e.stream])).toEqual([["first", "stdout"], ["second", "stderr"]]);
  // The service slept 0.3 s between the two lines. Stamped when read, the two would be a few ms
  // apart (both read at once, long after); stamped as they arrive, the gap is the sleep, less
  // however late a busy machine delivered the first line.
  expect(Number(got[1]!.time) - Number(got[0]!.time)).toBeGreaterThanOrEqual(100);
  expect(Date.now() - Number(got[1]!.time)).toBeGreaterThanOrEqual(150); // written before this read
});

test("resources: definitions, get by alias, watch with snapshot and Bootstrapped", async () => {
  const rd = await client.unary(ResourceService.List, { type: "rd" });
  expect(rd.resources!.map((r) => JSON.parse(r.specJson!).type)).toContain("Services.runtime.bunker.dev");
  expect((await getSpec<{ state: string }>(client, "svc", "echo"))!.state).toBe("Running");
  const seen: number[] = [];
  const w = (async () => {
    for await (const ev of client.stream(ResourceService.Watch, { type: "machinestatus", bootstrap: true })) {
      seen.push(ev.type ?? 0);
      if (ev.type === bunker.resource.v1.EventType.EVENT_TYPE_UPDATED) break;
    }
  })();
  // The update must come after the watch is in place: its snapshot ends with Bootstrapped.
  expect(await eventually(() => seen.includes(bunker.resource.v1.EventType.EVENT_TYPE_BOOTSTRAPPED))).toBe(true);
  await apply(worker);
  await w;
  const E = bunker.resource.v1.EventType;
  expect(seen.slice(0, 3)).toEqual([E.EVENT_TYPE_CREATED, E.EVENT_TYPE_BOOTSTRAPPED, E.EVENT_TYPE_UPDATED]);
  expect(await getSpec<MachineStatusSpec>(client, "machinestatus", "machine")).toMatchObject({ stage: "running", ready: true });
});

test("errors carry their gRPC status: bad config, unknown type, busy-free refusal, not found", async () => {
  // Every problem, each with its line:column.
  const bad = apply(edit(worker, "type: worker", "type: toaster").replace("  token: abcdef.0123456789abcdef\n", ""));
  expect(await rejection(bad)).toMatchObject({ code: Status.INVALID_ARGUMENT });
  expect((await rejection(bad)).message).toMatch(/api:4:9: error: machine.type: .*\napi:3:1: error: machine.token|api:3:1: error: machine.token: .*\napi:4:9: error: machine.type/);
  expect(await rejection(client.unary(ResourceService.List, { type: "nope" }))).toMatchObject({ code: Status.NOT_FOUND });
  expect(await rejection(client.unary(MachineService.ServiceStart, { id: "nope" }))).toMatchObject({ code: Status.NOT_FOUND });
  const notInstalled = await rejection(client.unary(MachineService.Upgrade, { image: "http://127.0.0.1:9/image/" }));
  expect(notInstalled).toMatchObject({ code: Status.FAILED_PRECONDITION });
  expect(notInstalled.message).toMatch("not booted from an installed disk");
  expect(await rejection(client.unary(MachineService.Rollback, {}))).toMatchObject({ code: Status.FAILED_PRECONDITION });
  // A worker holds no CA key: it cannot mint client certificates.
  expect(await rejection(client.unary(MachineService.GenerateClientConfiguration, { roles: ["os:reader"] }))).toMatchObject({ code: Status.FAILED_PRECONDITION });
  expect(machine.supervisor.status("echo").state).toBe("Running"); // a refused upgrade stops nothing
});

test("a typed error reaches the client with its status and message; an untyped one is INTERNAL without its text", async () => {
  const details = async (p: Promise<unknown>) => { const e = await rejection(p); return [e.code, e.details]; };
  expect(await details(client.unary(ResourceService.Get, { type: "services", id: "nope" }))).toEqual([Status.NOT_FOUND, "runtime/Services.runtime.bunker.dev/nope: not found"]);
  expect(await details(client.unary(MachineService.ServiceRestart, { id: "nope" }))).toEqual([Status.NOT_FOUND, "service nope: not found"]);
  expect(await details(client.unary(MachineService.ServiceStart, { id: "" }))).toEqual([Status.INVALID_ARGUMENT, "id: expected a non-empty string"]);
  expect(await details(client.unary(MachineService.ConfirmConfiguration, {}))).toEqual([Status.FAILED_PRECONDITION, "no configuration is being tried (apply one with mode try first)"]);

  // The same handlers behind a second socket, one of them failing as a library fault would.
  const logged: string[] = [];
  const path = join(dir, "faulty.sock");
  const faulty = await serveApi({
    path, handlers: { ...createHandlers(machine), hostname: () => { throw new Error("cannot read /secrets/key=Zm9vYmFy"); } },
    trust: { adminUids: new Set([0, process.getuid?.() ?? 0]), apidUid: APID_UID, maintenance: () => false },
    onError: (m) => logged.push(m),
  });
  const c = initClient(path);
  try {
    const [code, text] = await details(c.unary(MachineService.Hostname, {}));
    expect(code).toBe(Status.INTERNAL);
    expect(text).toBe(INTERNAL_MESSAGE);
    expect(logged.join("\n")).toContain("Zm9vYmFy");
  } finally {
    c.close();
    await faulty.close();
  }
});

test("apply-config modes: dry run lists changes, live refuses reboot-only changes, staged only saves", async () => {
  await apply(worker);
  const hostOnly = withHostname("web1");
  const rebootOnly = withSecret();
  expect(await apply(hostOnly, { dryRun: true })).toMatchObject({
    mode: M.APPLY_MODE_LIVE, changes: [{ path: "machine.network.hostname", kind: "added", effect: bunker.machine.v1.ChangeEffect.CHANGE_EFFECT_LIVE }],
  });
  // The diff is of the configs as the node holds them (defaults filled in), with secrets redacted.
  expect((await apply(hostOnly, { dryRun: true })).diff).toBe("--- current\n+++ new\n@@ -9,4 +9,5 @@\n   certSANs: []\n   network:\n+    hostname: web1\n     interfaces:\n       - interface: eth0\n");
  expect((await apply(hostOnly, { dryRun: true })).diff).not.toContain("abcdef.0123456789abcdef");
  expect(await apply(rebootOnly, { dryRun: true })).toMatchObject({ mode: M.APPLY_MODE_REBOOT });
  expect((await rejection(apply(rebootOnly, { mode: M.APPLY_MODE_LIVE }))).message).toMatch(`these changes need a reboot: ${REBOOT_PATH}`);
  expect(await apply(rebootOnly, { mode: M.APPLY_MODE_STAGED })).toMatchObject({ mode: M.APPLY_MODE_STAGED });
  expect(readFileSync(machine.savedConfigPath, "utf8")).toBe(rebootOnly);
  expect((await client.unary(MachineService.Hostname, {})).hostname).not.toBe("web1");
  expect(await apply(hostOnly)).toMatchObject({ mode: M.APPLY_MODE_LIVE });
  expect((await client.unary(MachineService.Hostname, {})).hostname).toBe("web1");
  // The config was checked once, by the API (off the event loop): the sequence takes that typed
  // value and does not load the text again (#14: a live apply ran the loader three times).
  const phases = machine.store.get<SequenceSpec>({ ...SEQUENCES, id: "apply-config" })!.spec.phases.map((ph) => ph.name);
  expect(phases).toEqual(["save", "apply", "ready"]);
});

test("the gRPC contract adapters answer with messages that survive protobuf encoding", async () => {
  const h = createHandlers(machine);
  const msvc = machineServiceImpl(h);
  const rsvc = resourceServiceImpl(h);
  const ctx = { signal: new AbortController().signal };
  const roundTrip = <T>(codec: { encode(m: T): { finish(): Uint8Array }; decode(b: Uint8Array): unknown }, msg: T) =>
    (codec.decode(codec.encode(msg).finish()) as { toJSON(): Record<string, unknown> }).toJSON();

  const v = roundTrip(MachineService.Version.responseType, await msvc.Version({}, ctx));
  expect(v).toMatchObject({ bunVersion: Bun.version, arch: process.arch, hostname: "web1" });
  const list = roundTrip(MachineService.ServiceList.responseType, await msvc.ServiceList({}, ctx)) as { services: { id: string; state: string; pid: number; events: unknown[] }[] };
  const echo = list.services.find((s) => s.id === "echo")!;
  expect(echo.state).toBe("Running");
  expect(echo.pid).toBeGreaterThan(0);
  expect(echo.events.length).toBeGreaterThan(0);

  const logLines: string[] = [];
  for await (const e of msvc.Logs({ id: "echo", tail: 2 }, ctx)) logLines.push(roundTrip(MachineService.Logs.responseType, e).message as string);
  expect(logLines).toEqual(["line3", "extra"]);

  const dry = roundTrip(MachineService.ApplyConfiguration.responseType, await msvc.ApplyConfiguration({
    data: enc(withHostname("web2")), dryRun: true,
  }, ctx));
  // LIVE is enum value 0, the default, so it is not on the wire; REBOOT is.
  expect(dry).toMatchObject({ mode: "APPLY_MODE_LIVE", changes: [{ path: "machine.network.hostname", kind: "changed" }] });
  const dryReboot = roundTrip(MachineService.ApplyConfiguration.responseType, await msvc.ApplyConfiguration({
    data: enc(withSecret(withHostname("web1"))), dryRun: true,
  }, ctx));
  expect(dryReboot).toMatchObject({ mode: "APPLY_MODE_REBOOT", changes: [{ path: REBOOT_PATH, kind: "changed", effect: "CHANGE_EFFECT_REBOOT" }] });

  const got = roundTrip(ResourceService.Get.responseType, await rsvc.Get({ type: "svc", id: "echo" }, ctx)) as { resource: { metadata: { version: string | number; created: string | number }; specJson: string }; definition: { aliases: string[] } };
  expect(JSON.parse(got.resource.specJson).state).toBe("Running");
  expect(got.definition.aliases).toContain("svc");
  expect(Number(got.resource.metadata.created)).toBeGreaterThan(0);

  const ac = new AbortController();
  const seen: string[] = [];
  for await (const ev of rsvc.Watch({ type: "hostname", bootstrap: true }, { ...ctx, signal: ac.signal })) {
    seen.push(String(roundTrip(ResourceService.Watch.responseType, ev).type));
    if (seen.length === 2) ac.abort();
  }
  expect(seen).toEqual(["EVENT_TYPE_CREATED", "EVENT_TYPE_BOOTSTRAPPED"]);

  const events: { source: string; type: string }[] = [];
  for await (const e of msvc.Events({ tailEvents: 3 }, ctx)) events.push(e as { source: string; type: string });
  expect(events.length).toBe(3);
});

test("the machine readers: memory, load, CPUs, CPU time, processes, mounts, sockets, disks, kernel log", async () => {
  expect((await client.unary(MachineService.Memory, {})).total).toBe(Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync("/proc/meminfo", "utf8"))![1]) * 1024);
  expect((await client.unary(MachineService.LoadAvg, {})).total).toBeGreaterThan(0);
  expect((await client.unary(MachineService.CPUInfo, {})).cpus).toHaveLength(cpus().length);
  // This process's own CPU time since it started is inside the node's busy time since boot.
  const stat = await client.unary(MachineService.SystemStat, {});
  expect(stat.cpu).toHaveLength(cpus().length);
  expect(stat.cpuTotal!.user! + stat.cpuTotal!.system!).toBeGreaterThanOrEqual(process.cpuUsage().user / 1e6 - 0.01);
  expect(stat.bootTime).toBe(Number(/^btime (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"))![1]));
  const echoPid = machine.supervisor.status("echo").pid;
  expect((await client.unary(MachineService.Processes, {})).processes!.find((p) => p.pid === echoPid)).toMatchObject({ ppid: process.pid, command: "sleep" });
  expect((await client.unary(MachineService.Mounts, {})).mounts!.some((m) => m.target === "/")).toBe(true);
  // init's own socket listener is not TCP; the netstat of this process's loopback listener is.
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  try {
    const port = (server.address() as { port: number }).port;
    const recs = (await client.unary(MachineService.Netstat, { filter: bunker.machine.v1.NetstatRequest.Filter.FILTER_LISTENING, protocols: ["tcp"], pid: true })).records!;
    expect(recs.find((r) => r.localPort === port)).toMatchObject({ state: "LISTEN", pid: process.pid });
  } finally {
    server.close();
  }
  expect(await rejection(client.unary(MachineService.Netstat, { protocols: ["sctp"] }))).toMatchObject({ code: Status.INVALID_ARGUMENT });
  expect((await client.unary(MachineService.Disks, {})).disks!.map((d) => d.name)).toEqual(discoverDisks().map((d) => d.name));
  if (process.getuid?.() === 0) {
    const recs = await Array.fromAsync(client.stream(MachineService.Dmesg, { tail: 2 }));
    expect(recs.length).toBeGreaterThan(0);
    expect(recs.length).toBeLessThanOrEqual(2);
  }
});

test("List and Read stay under the allowed roots (container mode: the state dir), symlinks included", async () => {
  mkdirSync(join(dir, "logs"), { recursive: true });
  writeFileSync(join(dir, "logs", "a.txt"), "hello\n");
  const big = Buffer.alloc(200 * 1024, 7);
  big.write("start");
  writeFileSync(join(dir, "big.bin"), big);
  symlinkSync("/etc/hostname", join(dir, "escape"));
  symlinkSync("/etc", join(dir, "escdir"));
  const list = await Array.fromAsync(client.stream(MachineService.List, { root: dir, recurse: true }));
  const rel = list.map((e) => e.relativeName);
  expect(rel).toContain("logs/a.txt");
  expect(list.find((e) => e.relativeName === "escape")?.link).toBe("/etc/hostname");
  expect(list.find((e) => e.relativeName === "escdir")?.isDir ?? false).toBe(false); // a link, not followed
  expect(rel.some((r) => r!.startsWith("escdir/"))).toBe(false);
  expect(list.find((e) => e.relativeName === "logs/a.txt")).toMatchObject({ size: 6, isDir: false });
  const shallow = (await Array.fromAsync(client.stream(MachineService.List, { root: dir }))).map((e) => e.relativeName);
  expect(shallow).toContain("logs");
  expect(shallow).not.toContain("logs/a.txt");

  const chunks = await Array.fromAsync(client.stream(MachineService.Read, { path: join(dir, "big.bin") }));
  expect(chunks.every((c) => c.data!.length <= 65536)).toBe(true);
  expect(Buffer.concat(chunks.map((c) => c.data!)).equals(big)).toBe(true);

  const read = (path: string) => Array.fromAsync(client.stream(MachineService.Read, { path }));
  expect(await rejection(read("/etc/passwd"))).toMatchObject({ code: Status.PERMISSION_DENIED, details: `/etc/passwd is outside the readable roots: ${dir}` });
  expect(await rejection(read(join(dir, "escape")))).toMatchObject({ code: Status.PERMISSION_DENIED });
  expect((await rejection(read(join(dir, "escape")))).message).toMatch("which leads to /etc/hostname");
  expect(await rejection(read(join(dir, "escdir", "passwd")))).toMatchObject({ code: Status.PERMISSION_DENIED });
  // ".." is refused outright, wherever it would lead.
  expect(await rejection(read(`${dir}/logs/../../../etc/passwd`))).toMatchObject({ code: Status.INVALID_ARGUMENT });
  expect(await rejection(read(join(dir, "nope")))).toMatchObject({ code: Status.NOT_FOUND });
  expect(await rejection(read("relative/path"))).toMatchObject({ code: Status.INVALID_ARGUMENT });
  expect(await rejection(Array.fromAsync(client.stream(MachineService.List, { root: "/etc" })))).toMatchObject({ code: Status.PERMISSION_DENIED });
});

test("apply-config mode try: applied now, reverted at the deadline unless confirmed, saved only once confirmed", async () => {
  // The deadline waits by a clock this test moves: no sleeping past it, and no race with a slow machine.
  const clock = new ManualClock(Date.now());
  const h = createHandlers(machine, clock);
  const hostname = async () => (await client.unary(MachineService.Hostname, {})).hostname;
  const saved = readFileSync(machine.savedConfigPath, "utf8");
  const before = await hostname();
  const tried = await h["apply-config"]({ data: withHostname("tried"), mode: "try", tryTimeoutSeconds: 1 });
  expect(tried.mode).toBe("try");
  expect(tried.tryDeadline).toBe(clock.now() + 1000);
  expect(await hostname()).toBe("tried");
  expect(readFileSync(machine.savedConfigPath, "utf8")).toBe(saved); // not saved while on trial
  expect(await rejection(h["apply-config"]({ data: withHostname("second"), mode: "try" }))).toMatchObject({ message: expect.stringContaining("another config is being tried") });
  clock.advance(999);
  expect(clock.pending()).toEqual([1]);
  expect(await hostname()).toBe("tried");
  clock.advance(1);
  expect(await eventually(async () => (await hostname()) === before)).toBe(true);
  expect(() => h["confirm-config"]()).toThrow("no configuration is being tried");

  await h["apply-config"]({ data: withHostname("kept"), mode: "try", tryTimeoutSeconds: 1 });
  expect(h["confirm-config"]().message).toContain("confirmed");
  expect(clock.pending()).toEqual([]); // the revert is cancelled, not merely late
  clock.advance(60_000);
  expect(await hostname()).toBe("kept");
  expect(readFileSync(machine.savedConfigPath, "utf8")).toBe(withHostname("kept"));
  // Through the API too, and a change that needs a reboot cannot be tried.
  expect((await rejection(apply(withSecret(withHostname("kept")), { mode: M.APPLY_MODE_TRY } as never))).message).toMatch(`mode try: these changes need a reboot: ${REBOOT_PATH}`);
}, 20_000);

const root = process.getuid?.() === 0;
/** Runs a Version or Reboot call as another uid (through spawnTracked: the reaper here must leave its status to Bun). */
async function callAs(uid: number, method: "Version" | "Reboot" | "Memory", metadata: Record<string, string>): Promise<string> {
  const grpc = resolve(import.meta.dir, "../../../core/grpc/client.ts");
  const svc = resolve(import.meta.dir, "../../../core/api/gen/services.ts");
  const script = `import { GrpcClient } from ${JSON.stringify(grpc)}; import { MachineService } from ${JSON.stringify(svc)};
    const c = GrpcClient.unix(${JSON.stringify(machine.socketPath)});
    try { await c.unary(MachineService.${method}, {}, { metadata: ${JSON.stringify(metadata)} }); console.log("ALLOWED"); }
    catch (e) { console.log("DENIED " + e.message); } finally { c.close(); }`;
  const p = spawnTracked([process.execPath, "-e", script], { uid, gid: uid, stdin: "ignore", stdout: "pipe", stderr: "pipe", cwd: "/", env: { PATH: "/usr/bin:/bin", HOME: "/" } });
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  await p.exited;
  return out.trim() || err;
}

test.skipIf(!root)("SO_PEERCRED decides: another uid is refused, apid's uid is held to the roles it relays (needs root to switch uid)", async () => {
  chmodSync(machine.socketPath, 0o666); // the file mode would stop uid 65534 first; show the credential check
  try {
    expect(await callAs(65534, "Version", {})).toStartWith("DENIED PERMISSION_DENIED: uid 65534 may not use init's socket");
    // apid's uid: the roles it relays are checked again here.
    expect(await callAs(APID_UID, "Version", { "x-bunker-roles": "os:reader" })).toBe("ALLOWED");
    expect(await callAs(APID_UID, "Reboot", { "x-bunker-roles": "os:reader" })).toBe("DENIED PERMISSION_DENIED: Reboot needs one of os:admin, os:operator; the caller has os:reader");
    expect(await callAs(APID_UID, "Version", {})).toStartWith("DENIED PERMISSION_DENIED: Version needs one of");
    expect(powered).toEqual([]);
  } finally {
    chmodSync(machine.socketPath, 0o660);
  }
}, 30_000);

test("reboot through the API runs the reboot sequence and ends in the power request", async () => {
  await client.unary(MachineService.Reboot, {});
  expect(await eventually(() => powered.length > 0)).toBe(true);
  expect(powered).toEqual(["reboot"]);
  expect(machine.supervisor.status("echo").state).toBe("Finished");
  // Once powering, every later request is refused: there is no second power action.
  expect(await rejection(client.unary(MachineService.Shutdown, {}))).toMatchObject({ code: Status.UNAVAILABLE, details: "busy: reboot in progress" });
  expect(powered).toEqual(["reboot"]);
});

test("the first config is one-shot: of two racing, one commits and the other is refused; staged is refused in maintenance", async () => {
  // A node of its own in maintenance mode; the handlers called as the server calls them.
  const d = mkdtempSync(join(tmpdir(), "bunker-first-"));
  const m = new Machine({ mode: "container", stateDir: d, runDir: d, noTable: true, onPower: () => {} });
  try {
    await m.boot();
    const h = createHandlers(m);
    expect(m.maintenanceOpen()).toBe(true);
    const staged = await rejection(h["apply-config"]({ data: worker, mode: "staged" }));
    expect(staged).toMatchObject({ code: "failed_precondition" });
    expect(staged.message).toMatch("mode staged: this node has no config yet");
    expect(m.maintenanceOpen()).toBe(true);
    // Both start in the same tick, as two calls arriving together would: the first claims.
    const results = await Promise.allSettled([h["apply-config"]({ data: withHostname("first") }), h["apply-config"]({ data: withHostname("second") })]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected"]);
    const refused = (results[1] as PromiseRejectedResult).reason;
    // With the reason a client whose earlier try lost its answer acts on: its config went in.
    expect(refused).toMatchObject({ code: "failed_precondition", reason: "config-taken" });
    expect(refused.message).toMatch("one-shot");
    expect(m.maintenanceOpen()).toBe(false);
    // The config that won is the one the node has; its secrets stay out of the store.
    const mc = m.store.get<{ raw: string; config: { machine: { token: string; network: { hostname: string } } } }>({ namespace: "config", type: "MachineConfigs.config.bunker.dev", id: "v1alpha1" })!.spec;
    expect(mc.config.machine.network.hostname).toBe("first");
    expect(mc.config.machine.token).toBe("[redacted]");
    expect(mc.raw).not.toContain("abcdef.0123456789abcdef");
    expect(m.machineConfig()!.raw).toContain("abcdef.0123456789abcdef");
  } finally {
    await m.supervisor.stopAll();
    m.stopBackground();
    rmSync(d, { recursive: true, force: true });
  }
});

