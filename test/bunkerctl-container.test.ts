/**
 * bunkerctl against a real node: `bunker init --mode=container --api-listen` (init and its apid,
 * the compiled binary) booted from a config made by `bunkerctl gen config`, driven through
 * mTLS as an operator would. A small supervisor restarts init when it exits for a reboot (as a
 * container runtime's restart policy would), so `reboot --wait` sees the node come back.
 * (The authorisation matrix against container mode is test/bunkerctl-container-authz.test.ts.)
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { generateSecrets, loadSecrets, saveSecrets } from "../core/secrets/secrets.ts";
import { ContainerNode, ctl, ctlUntil, freePort, TestCluster } from "./lib/remote-cluster.ts";
import { eventually } from "./lib/eventually.ts";

const secrets = generateSecrets();
const cluster = new TestCluster(secrets.os);
// When init runs as root, apid runs as uid 50: it must be able to reach the state directory.
chmodSync(cluster.dir, 0o711);
const state = join(cluster.dir, "state");
const cfgDir = join(cluster.dir, "cfg");
let port = 0;
let endpoint = "";
let admin = "";
let node: ContainerNode;

beforeAll(async () => {
  port = await freePort();
  endpoint = `127.0.0.1:${port}`;
  const secretsFile = join(cluster.dir, "secrets.yaml");
  saveSecrets(secretsFile, secrets);
  const gen = await ctl(undefined, "gen", "config", "demo", `https://${endpoint}`, "--with-secrets", secretsFile, "--output-dir", cfgDir);
  if (gen.code !== 0) throw new Error(`gen config: ${gen.err}`);
  admin = join(cfgDir, "bunkerconfig");
  expect((await ctl(admin, "config", "endpoint", endpoint)).code).toBe(0);
  expect((await ctl(admin, "config", "node", endpoint)).code).toBe(0);
  node = new ContainerNode(state, endpoint, join(cfgDir, "controlplane.yaml"), { restartOnReboot: true });
  node.start();
}, 30_000);

afterAll(async () => {
  await node.stop();
  await cluster.close();
});

test("health waits for the node, showing its progress, until it is ready", async () => {
  expect(loadSecrets(join(cluster.dir, "secrets.yaml")).os.certificate.serial).toBe(secrets.os.certificate.serial);
  const r = await ctl(admin, "health", "--wait-timeout", "60s");
  expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: "" });
  expect(r.out).toEndWith(`${endpoint}: running: ready\n`);
}, 70_000);

test("version, services, service status and an unknown service", async () => {
  const v = JSON.parse((await ctl(admin, "version", "-o", "json")).out);
  expect(v).toEqual([expect.objectContaining({ node: endpoint, version: "0.1.0", maintenance: false, arch: process.arch })]);
  const s = await ctl(admin, "services");
  expect(s.code).toBe(0);
  expect(s.out).toMatch(new RegExp(`^NODE +SERVICE +STATE +HEALTH +PID +RESTARTS\\n${endpoint.replace(/\./g, "\\.")} +apid +Running `));
  const st = await ctl(admin, "service", "apid");
  expect(st.out).toContain("STATE      Running");
  const missing = await ctl(admin, "service", "toaster", "restart");
  expect(missing.code).toBe(1);
  expect(missing.err).toContain("toaster");
}, 30_000);

test("logs of apid (and -f until interrupted), events (and --since)", async () => {
  const l = await ctl(admin, "logs", "apid", "--tail", "20");
  expect(l.out).toContain(`apid: listening on ${endpoint}`);
  const f = await ctlUntil(admin, /listening on/, 15_000, "logs", "apid", "-f");
  expect(f.matched).toBe(true);
  const ev = (await ctl(admin, "events", "--tail", "3")).out.trim().split("\n");
  expect(ev).toHaveLength(3);
  const first = ev[0]!.split(/\s+/)[0]!;
  const since = (await ctl(admin, "events", "--since", first, "-o", "json")).out.trim().split("\n").map((x) => JSON.parse(x).id);
  expect(since[0]).toBe(ev[1]!.split(/\s+/)[0]!);
  const followed = await ctlUntil(admin, /\n/, 15_000, "events", "-f", "--tail", "1");
  expect(followed.out.trim().split("\n")).toHaveLength(1);
}, 60_000);

test("get rd, get a resource as yaml, and -w until interrupted", async () => {
  const rd = await ctl(admin, "get", "rd");
  expect(rd.out).toContain("MachineStatuses.runtime.bunker.dev");
  const y = await ctl(admin, "get", "machinestatus", "machine", "-o", "yaml");
  expect(y.code).toBe(0);
  expect(parse(y.out)).toMatchObject({ node: endpoint, metadata: { namespace: "runtime", id: "machine" }, spec: { stage: "running", ready: true } });
  const w = await ctlUntil(admin, /running/, 15_000, "get", "machinestatus", "-w");
  expect(w.out.split("\n")[0]).toBe("EVENT\tNODE\tNAMESPACE\tTYPE\tID\tVERSION\tSTAGE\tREADY");
  expect(w.out.split("\n")[1]!.split("\t")).toEqual(["created", endpoint, "runtime", expect.stringMatching(/^MachineStatus/), "machine", expect.stringMatching(/^\d+$/), "running", "true"]);
}, 30_000);

test("apply-config: dry run lists the change and its effect; a live hostname change shows in version", async () => {
  const cfg = parse(readFileSync(join(cfgDir, "controlplane.yaml"), "utf8"));
  cfg.machine.network = { ...cfg.machine.network, hostname: "renamed" };
  const file = join(cluster.dir, "renamed.yaml");
  writeFileSync(file, stringify(cfg));
  const dry = await ctl(admin, "apply-config", "-f", file, "--dry-run", "-o", "json");
  expect(dry.code).toBe(0);
  expect(JSON.parse(dry.out)[0].changes).toContainEqual(expect.objectContaining({ path: expect.stringContaining("hostname") }));
  const bad = join(cluster.dir, "bad.yaml");
  writeFileSync(bad, "version: v1alpha1\nmachine: {type: toaster}\n");
  const refused = await ctl(admin, "apply-config", "-f", bad);
  expect(refused.code).toBe(1);
  expect(refused.err).toContain("machine.type");
  const live = await ctl(admin, "apply-config", "-f", file, "--mode", "live");
  expect(live.code).toBe(0);
  expect(JSON.parse((await ctl(admin, "version", "-o", "json")).out)[0].hostname).toBe("renamed");
}, 30_000);

test("the /proc and /dev/kmsg readers: memory, ps, mounts, netstat, disks, dmesg", async () => {
  const mem = JSON.parse((await ctl(admin, "memory", "-o", "json")).out)[0];
  expect(mem.total).toBeGreaterThan(mem.available);
  expect(mem.available).toBeGreaterThan(0);
  const ps = JSON.parse((await ctl(admin, "ps", "-o", "json")).out);
  expect(ps.some((p: { pid: number }) => p.pid === node.proc!.pid)).toBe(true);
  expect((await ctl(admin, "ps", "--sort", "rss")).out).toStartWith("NODE ");
  const mounts = JSON.parse((await ctl(admin, "mounts", "-o", "json")).out);
  expect(mounts.some((m: { target: string }) => m.target === "/proc")).toBe(true);
  // apid's own listening socket, with its process.
  const ns = JSON.parse((await ctl(admin, "netstat", "-l", "-t", "-p", "-o", "json")).out);
  expect(ns).toContainEqual(expect.objectContaining({ localIp: "127.0.0.1", localPort: port, state: "LISTEN", pid: expect.any(Number) }));
  expect((await ctl(admin, "disks", "-o", "json")).code).toBe(0);
  const d = await ctl(admin, "dmesg", "--tail", "2");
  // Reading /dev/kmsg needs privileges a container may lack: then the node says why.
  if (d.code === 0) expect(d.out.trim().split("\n")).toHaveLength(2);
  else expect({ code: d.code, err: d.err }).toEqual({ code: 1, err: expect.stringContaining("kmsg") });
}, 30_000);

test("ls and read under the roots the node allows; a path outside is refused with the roots named", async () => {
  const ls = await ctl(admin, "ls", state, "-r", "-l");
  expect(ls.code).toBe(0);
  expect(ls.out).toMatch(/-rw------- +\d+ +\d+ +\d+ +\S+ +apid\/ca\.crt/);
  const ca = await ctl(admin, "read", join(state, "apid", "ca.crt"));
  expect(ca.out).toBe(readFileSync(join(state, "apid", "ca.crt"), "utf8"));
  const outside = await ctl(admin, "read", "/etc/hostname");
  expect(outside.code).toBe(5);
  expect(outside.err).toContain(`/etc/hostname is outside the readable roots: ${state}`);
  expect(outside.err).not.toContain("ask an admin");
}, 30_000);

test("config new: an admin asks the node for a reader's client config, which reads and may not reboot", async () => {
  const path = join(cluster.dir, "reader.bunkerconfig");
  const made = await ctl(admin, "config", "new", path, "--roles", "os:reader", "--crt-ttl", "1h");
  expect(made).toMatchObject({ code: 0, out: `wrote ${path}\n` });
  const info = JSON.parse((await ctl(path, "config", "info", "-o", "json")).out);
  expect(info).toMatchObject({ endpoints: [endpoint], nodes: [endpoint], certificate: { roles: ["os:reader"], expired: false } });
  expect(Date.parse(info.certificate.notAfter) - Date.now()).toBeLessThan(3_600_000 + 60_000);
  expect((await ctl(path, "services")).code).toBe(0);
  const reboot = await ctl(path, "reboot");
  expect(reboot.code).toBe(5);
  expect(reboot.err).toContain("Reboot needs one of os:admin, os:operator; the caller has os:reader");
  // A reader may not mint certificates; an existing file is not replaced.
  expect((await ctl(path, "config", "new", join(cluster.dir, "x"), "--roles", "os:admin")).code).toBe(5);
  const again = await ctl(admin, "config", "new", path, "--roles", "os:reader");
  expect(again.code).toBe(1);
  expect(again.err).toContain("already exists");
}, 30_000);

test("apply-config --mode try reverts at the deadline; confirm keeps it", async () => {
  const hostname = async () => JSON.parse((await ctl(admin, "version", "-o", "json")).out)[0].hostname as string;
  const before = await hostname();
  const cfg = parse(readFileSync(join(cfgDir, "controlplane.yaml"), "utf8"));
  const file = join(cluster.dir, "tried.yaml");
  writeFileSync(file, stringify({ ...cfg, machine: { ...cfg.machine, network: { hostname: "tried" } } }));
  const tried = await ctl(admin, "apply-config", "-f", file, "--mode", "try", "--try-timeout", "2s");
  expect(tried.code).toBe(0);
  expect(await hostname()).toBe("tried");
  // The node's own try-mode timer (2 s) runs in another process; its unit test moves a ManualClock.
  let now = "tried";
  await eventually(async () => (now = await hostname()) !== "tried", 15_000);
  expect(now).toBe(before);
  expect((await ctl(admin, "apply-config", "-f", file, "--mode", "try", "--try-timeout", "2s")).code).toBe(0);
  const confirm = await ctl(admin, "confirm");
  expect(confirm.code).toBe(0);
  // Past the 2 s deadline a confirmed config must still be in force: only real time passing in the
  // node can show that the revert does not come.
  await Bun.sleep(3000);
  expect(await hostname()).toBe("tried");
}, 40_000);

test("reboot --wait: init exits for the reboot, comes back, and the client waits until ready", async () => {
  const before = node.boots;
  const r = await ctl(admin, "reboot", "--wait", "--wait-timeout", "60s");
  expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: "" });
  expect(r.out).toMatch(new RegExp(`^${endpoint}: rebooting( \\(the node closed the connection as it went down\\))?\n`));
  expect(r.out).toEndWith(`${endpoint}: back: running: ready\n`);
  expect(node.boots).toBe(before + 1);
}, 70_000);

test("shutdown: init powers off (exit 11)", async () => {
  const r = await ctl(admin, "shutdown");
  expect(r.code).toBe(0);
  expect(r.out).toStartWith(`${endpoint}: shutting down`);
  await node.proc!.exited;
  expect(node.lastExit).toBe(11);
}, 30_000);
