import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Machine, type PowerRequest } from "../machine.ts";
import { InitClient } from "./client.ts";
import { createHandlers } from "./handlers.ts";
import { serveApi } from "./server.ts";
import { machineServiceImpl, resourceServiceImpl } from "./contract.ts";
import { MachineService, ResourceService } from "../../../core/api/gen/services.ts";
import { spawnTracked } from "../children.ts";
import type { WatchEvent } from "../../../core/resources/index.ts";

let dir = "";
let machine: Machine;
let server: { stop(): void };
let client: InitClient;
const powered: PowerRequest[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "bunker-api-"));
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, "svc.yaml"), JSON.stringify([
    { id: "echo", argv: ["/bin/sh", "-c", "for i in 1 2 3; do echo line$i; done; exec sleep 1000"] },
  ]));
  machine = new Machine({
    mode: "container", stateDir: dir, runDir: dir, servicesFile: join(dir, "svc.yaml"), noTable: true,
    onPower: (a) => powered.push(a),
    startApi: () => { server = serveApi({ path: machine.socketPath, handlers: createHandlers(machine) }); },
  });
  await machine.boot();
  client = await InitClient.connect(machine.socketPath);
});

afterAll(async () => {
  client?.close();
  server?.stop();
  await machine?.supervisor.stopAll();
  machine?.runtime.stop();
  machine?.reaper.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("logs: tail then follow a service's output", async () => {
  for (let i = 0; i < 500 && !machine.supervisor.logs("echo").tail(3).includes("line3"); i++) await Bun.sleep(10);
  const got: string[] = [];
  await client.stream<string>("logs", { id: "echo", tail: 2 }, (s) => { got.push(s); });
  expect(got.join("")).toBe("line2\nline3\n");
  const followed: string[] = [];
  const done = client.stream<string>("logs", { id: "echo", tail: 0, follow: true }, (s) => { followed.push(s); return !s.includes("extra"); });
  await Bun.sleep(20);
  machine.supervisor.logs("echo").write(new TextEncoder().encode("extra\n"));
  await done;
  expect(followed.join("")).toBe("extra\n");
});

test("resources: definitions, get by alias, watch with snapshot and Bootstrapped", async () => {
  const defs = await client.call<{ type: string; aliases: string[] }[]>("resources.definitions");
  expect(defs.find((d) => d.aliases.includes("svc"))?.type).toBe("Services.runtime.bunker.dev");
  const svc = await client.call<{ metadata: { id: string }; spec: { state: string } }>("resources.get", { type: "svc", id: "echo" });
  expect(svc.spec.state).toBe("Running");
  const seen: string[] = [];
  const w = client.stream<WatchEvent>("resources.watch", { type: "machinestatus" }, (ev) => {
    seen.push(ev.type);
    return ev.type !== "Updated";
  });
  await Bun.sleep(20);
  await client.call("apply-config", { data: "version: v1alpha1\nmachine: {type: worker}\n" });
  await w;
  expect(seen.slice(0, 3)).toEqual(["Created", "Bootstrapped", "Updated"]);
  const st = await client.call<{ stage: string; ready: boolean }>("machine.status");
  expect(st).toMatchObject({ stage: "running", ready: true });
});

test("errors carry gRPC-style codes: bad config, unknown type, unknown method, busy", async () => {
  await expect(client.call("apply-config", { data: "version: v9\n" })).rejects.toMatchObject({ code: "invalid_argument" });
  await expect(client.call("resources.list", { type: "nope" })).rejects.toMatchObject({ code: "not_found" });
  await expect(client.call("no.such.method")).rejects.toMatchObject({ code: "unimplemented" });
  await expect(client.call("upgrade")).rejects.toThrow("needs the installer");
  expect(machine.supervisor.status("echo").state).toBe("Running"); // a refused upgrade stops nothing
});

test("apply-config modes: dry run lists changes, live refuses reboot-only changes, staged only saves", async () => {
  const base = "version: v1alpha1\nmachine: {type: worker}\n";
  await client.call("apply-config", { data: base });
  const hostOnly = "version: v1alpha1\nmachine: {type: worker, network: {hostname: web1}}\n";
  const withDisk = "version: v1alpha1\nmachine: {type: worker, install: {disk: /dev/vda}}\n";
  expect(await client.call("apply-config", { data: hostOnly, dryRun: true })).toMatchObject({
    mode: "live", applied: false, dryRun: true, changes: [{ path: "machine.network.hostname", kind: "added", live: true }],
  });
  expect(await client.call("apply-config", { data: withDisk, dryRun: true })).toMatchObject({ mode: "reboot", applied: false });
  await expect(client.call("apply-config", { data: withDisk, mode: "live" })).rejects.toThrow("these changes need a reboot: machine.install.disk");
  await expect(client.call("apply-config", { data: base, mode: "try" })).rejects.toMatchObject({ code: "unimplemented" });
  expect(await client.call("apply-config", { data: withDisk, mode: "staged" })).toMatchObject({ mode: "staged", applied: true });
  expect(readFileSync(machine.savedConfigPath, "utf8")).toBe(withDisk);
  expect((await client.call<{ hostname: string }>("hostname")).hostname).not.toBe("web1");
  expect(await client.call("apply-config", { data: hostOnly })).toMatchObject({ mode: "live", applied: true });
  expect((await client.call<{ hostname: string }>("hostname")).hostname).toBe("web1");
});

test("the gRPC contract adapters answer with messages that survive protobuf encoding", async () => {
  const h = createHandlers(machine);
  const msvc = machineServiceImpl(h);
  const rsvc = resourceServiceImpl(h);
  const ctx = { signal: new AbortController().signal, peer: { pid: 0, uid: 0, gid: 0 } };
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
    data: new TextEncoder().encode("version: v1alpha1\nmachine: {type: worker, network: {hostname: web2}}\n"), dryRun: true,
  }, ctx));
  // LIVE is enum value 0, the default, so it is not on the wire; REBOOT is.
  expect(dry).toMatchObject({ mode: "APPLY_MODE_LIVE", changes: [{ path: "machine.network.hostname", kind: "changed" }] });
  const dryDisk = roundTrip(MachineService.ApplyConfiguration.responseType, await msvc.ApplyConfiguration({
    data: new TextEncoder().encode("version: v1alpha1\nmachine: {type: worker, network: {hostname: web1}, install: {disk: /dev/vda}}\n"), dryRun: true,
  }, ctx));
  expect(dryDisk).toMatchObject({ mode: "APPLY_MODE_REBOOT", changes: [{ path: "machine.install.disk", kind: "added", effect: "CHANGE_EFFECT_REBOOT" }] });

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
  await expect(msvc.Memory({}, ctx)).rejects.toMatchObject({ code: "unimplemented" });
});

const root = process.getuid?.() === 0;
test.skipIf(!root)("a peer whose uid is not allowed is refused by SO_PEERCRED (needs root to switch uid)", async () => {
  const probe = resolve(import.meta.dir, "client.ts");
  const script = `import { InitClient } from ${JSON.stringify(probe)};
    const c = await InitClient.connect(${JSON.stringify(machine.socketPath)});
    try { await c.call("version"); console.log("ALLOWED"); } catch (e) { console.log("DENIED " + e.message); } finally { c.close(); }`;
  chmodSync(machine.socketPath, 0o666); // the file mode would stop it first; show the credential check
  // Through spawnTracked: the reaper running in this process must leave the status to Bun.
  const p = spawnTracked([process.execPath, "-e", script], { uid: 65534, gid: 65534, stdin: "ignore", stdout: "pipe", stderr: "pipe", cwd: "/", env: { PATH: "/usr/bin:/bin", HOME: "/" } });
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  await p.exited;
  expect(out.trim() || err).toBe("DENIED uid 65534 may not use this socket");
  chmodSync(machine.socketPath, 0o660);
}, 15_000);

test("reboot through the API runs the reboot sequence and ends in the power request", async () => {
  await expect(client.call("reboot")).resolves.toMatchObject({ accepted: true });
  for (let i = 0; i < 200 && powered.length === 0; i++) await Bun.sleep(10);
  expect(powered).toEqual(["reboot"]);
  expect(machine.supervisor.status("echo").state).toBe("Finished");
  // Once powering, every later request is refused: there is no second power action.
  await expect(client.call("shutdown")).rejects.toThrow("busy: reboot in progress");
  expect(powered).toEqual(["reboot"]);
});
