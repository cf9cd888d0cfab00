/**
 * `bunkerctl support` against two real nodes (the compiled binary's init in container mode, one
 * cluster): through node a's endpoint for both (b relayed), the archive is read back with the
 * system's tar and must hold each node's parts in its folder; extracted, no file may carry a
 * private key block or any secret of the nodes' config (the CA and etcd CA keys, the join token,
 * the cluster secret, a machine.files content marked secret), in any form the config carries
 * them. A reader's bundle keeps going past what it may not read and says so in PART.error.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { generateSecrets } from "../core/secrets/secrets.ts";
import { type ContainerNode, ctl, freePort, TestCluster } from "./lib/remote-cluster.ts";
import { Needles, secretCluster } from "./lib/secret-cluster.ts";

const secrets = generateSecrets();
const cluster = new TestCluster(secrets.os);
chmodSync(cluster.dir, 0o711); // apid (uid 50 when init runs as root) reaches the state folders
let ep = { a: "", b: "" };
let nodes: ContainerNode[] = [];
let needles = new Needles();
const leaks = (text: string) => needles.leaks(text);
const configs: Record<string, string> = {};
const FILE_SECRET = "svc-credential-support-0123456789";

const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));

function tar(...args: string[]): { code: number; out: string; err: string } {
  const r = Bun.spawnSync(["tar", ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

function extract(archive: string, name: string): string {
  const out = join(cluster.dir, name);
  mkdirSync(out);
  const x = tar("-xzf", archive, "-C", out);
  if (x.code !== 0) throw new Error(`tar -xzf ${archive}: ${x.err}`);
  return out;
}

beforeAll(async () => {
  ({ ep, nodes, needles } = await secretCluster(cluster, secrets, FILE_SECRET));
  for (const n of nodes) n.start();
  for (const role of ["admin", "reader"] as const) configs[role] = cluster.config(role, { client: cluster.client([`os:${role}`]) }, [ep.a], [ep.a]);
  for (const k of ["a", "b"] as const) {
    const h = await ctl(configs.admin, "health", "-e", ep[k], "-n", ep[k], "--wait-timeout", "60s");
    if (h.code !== 0) throw new Error(`node ${k} not ready: ${h.out}${h.err}`);
  }
}, 120_000);

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  await cluster.close();
});

const NODE_FILES = [
  "version.yaml", "config.yaml", "services.yaml", "dmesg.log", "events.jsonl", "processes.yaml", "mounts.yaml", "memory.yaml", "disks.yaml",
  "network/links.yaml", "network/addresses.yaml", "network/routes.yaml", "network/resolvers.yaml", "network/sockets.yaml",
  "logs/apid.log", "resources/MachineConfigs.config.bunker.dev.yaml", "resources/Services.runtime.bunker.dev.yaml",
  "resources/MachineStatuses.runtime.bunker.dev.yaml", "resources/ResourceDefinitions.meta.bunker.dev.yaml",
];

test("an admin's bundle of two nodes through one endpoint: every part per node, progress on stderr, no secret anywhere", async () => {
  const archive = join(cluster.dir, "bundle.tar.gz");
  const r = await ctl(configs.admin, "support", "-e", ep.a, "-n", `${ep.a},${ep.b}`, "-O", archive);
  expect({ code: r.code, out: r.out }).toEqual({ code: 0, out: "" });
  expect(statSync(archive).mode & 0o777).toBe(0o600);
  for (const n of [ep.a, ep.b]) {
    for (const part of ["version", "config", "services", "logs/apid", "dmesg", "events", "processes", "mounts", "network/routes", "resources/Services.runtime.bunker.dev"]) {
      expect(r.err).toMatch(new RegExp(`^${n.replace(/\./g, "\\.")}: ${part} \\(`, "m"));
    }
  }
  expect(r.err).toMatch(new RegExp(`^wrote ${archive.replace(/\./g, "\\.")}: 2 nodes, \\d+ entries`, "m"));
  expect(r.err).not.toContain("failed");

  const listed = tar("-tzf", archive);
  expect(listed.code).toBe(0);
  const names = listed.out.trim().split("\n");
  expect(names).toContain("support.yaml");
  for (const n of [ep.a, ep.b]) {
    expect(names).toContain(`${n}/`);
    for (const f of NODE_FILES) expect(names).toContain(`${n}/${f}`);
    expect(names.filter((x) => x.endsWith(".error"))).toEqual([]);
  }

  const out = extract(archive, "admin");
  const manifest = parse(readFileSync(join(out, "support.yaml"), "utf8"));
  expect(manifest.nodes.map((x: { node: string; failed: unknown[] }) => [x.node, x.failed])).toEqual([[ep.a, []], [ep.b, []]]);
  for (const [k, n] of [["a", ep.a], ["b", ep.b]] as const) {
    const cfg = readFileSync(join(out, n, "config.yaml"), "utf8");
    expect(cfg).toContain("[redacted]");
    // Relayed for real: each folder holds its own node's config, version and log.
    expect(parse(cfg).machine.network.hostname).toBe(`node-${k}`);
    expect(parse(readFileSync(join(out, n, "version.yaml"), "utf8")).hostname).toBe(`node-${k}`);
    expect(readFileSync(join(out, n, "logs/apid.log"), "utf8")).toContain(`listening on ${n}`);
    const services = parse(readFileSync(join(out, n, "services.yaml"), "utf8")).map((s: { id: string }) => `${s.id}.log`);
    expect(services).toContain("apid.log");
    expect(readdirSync(join(out, n, "logs")).sort()).toEqual(services.sort()); // every service the node lists has its log
    expect(parse(readFileSync(join(out, n, "processes.yaml"), "utf8")).some((p: { pid: number }) => p.pid === nodes[k === "a" ? 0 : 1]!.proc!.pid)).toBe(true);
    expect(readFileSync(join(out, n, "events.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l).id).length).toBeGreaterThan(3);
  }
  const files = walk(out);
  expect(files.length).toBeGreaterThan(2 * NODE_FILES.length);
  const bad = files.map((f) => ({ f, l: leaks(readFileSync(f, "latin1")) })).filter((x) => x.l.length);
  expect(bad.map((x) => `${x.f.slice(out.length + 1)}: ${x.l.join(", ")}`)).toEqual([]);
  // The search itself finds what it looks for: the secret is in the file the node was given.
  expect(leaks(readFileSync(join(cluster.dir, "node-a.yaml"), "utf8"))).toContain("machine.ca.key");
  expect(leaks(FILE_SECRET)).toEqual(["machine.files[0].content"]);
}, 180_000);

test("an existing file is kept unless --force; --force replaces it whole", async () => {
  const archive = join(cluster.dir, "exists.tar.gz");
  writeFileSync(archive, "keep me");
  const refused = await ctl(configs.admin, "support", "-n", ep.a, "-O", archive);
  expect(refused.code).toBe(2);
  expect(refused.err).toContain(`${archive} exists`);
  expect(refused.err).not.toContain(`${ep.a}: version`); // refused before collecting
  expect(readFileSync(archive, "utf8")).toBe("keep me");
  const forced = await ctl(configs.admin, "support", "-n", ep.a, "-O", archive, "--force");
  expect(forced.code).toBe(0);
  expect(tar("-tzf", archive).out).toContain(`${ep.a}/version.yaml`);
  expect(readdirSync(cluster.dir).filter((f) => f.includes("exists.tar.gz") && f !== "exists.tar.gz")).toEqual([]); // no temporary left
}, 120_000);

test("a reader's bundle: what it may not read is an error file naming it, the rest is collected", async () => {
  const archive = join(cluster.dir, "reader.tar.gz");
  const r = await ctl(configs.reader, "support", "-n", ep.b, "-O", archive);
  expect(r.code).toBe(5); // the first failure's: refused
  expect(r.err).toMatch(new RegExp(`^${ep.b.replace(/\./g, "\\.")}: config: failed: .*permission denied`, "m"));
  expect(r.err).toMatch(/1 part|2 parts/);
  const out = extract(archive, "reader");
  const err = readFileSync(join(out, ep.b, "config.error"), "utf8");
  expect(err).toStartWith(`collecting config from ${ep.b} failed:\n`);
  expect(err).toContain("sensitive");
  expect(existsSync(join(out, ep.b, "config.yaml"))).toBe(false);
  expect(existsSync(join(out, ep.b, "resources/MachineConfigs.config.bunker.dev.error"))).toBe(true);
  for (const f of ["version.yaml", "services.yaml", "logs/apid.log", "network/routes.yaml", "resources/Services.runtime.bunker.dev.yaml"]) expect(existsSync(join(out, ep.b, f))).toBe(true);
  const manifest = parse(readFileSync(join(out, "support.yaml"), "utf8"));
  expect(manifest.nodes[0].failed.map((x: { part: string }) => x.part)).toEqual(["config", "resources/MachineConfigs.config.bunker.dev"]);
  expect(walk(out).flatMap((f) => leaks(readFileSync(f, "latin1")))).toEqual([]);
}, 120_000);

test("a node that cannot be reached: the first part says why, the rest are skipped at once", async () => {
  const archive = join(cluster.dir, "down.tar.gz");
  const down = `127.0.0.1:${await freePort()}`;
  const r = await ctl(configs.admin, "support", "-e", down, "-n", down, "-O", archive);
  expect(r.code).toBe(4);
  expect(r.err).toMatch(new RegExp(`^${down.replace(/\./g, "\\.")}: version: failed: .*connection refused`, "m"));
  expect(r.err).toContain(`${down}: skipped config, services, dmesg`);
  const out = extract(archive, "down");
  expect(readFileSync(join(out, down, "version.error"), "utf8")).toContain("connection refused");
  expect(readFileSync(join(out, down, "skipped.error"), "utf8")).toStartWith(`not collected from ${down}, which could not be reached: config, services,`);
  const manifest = parse(readFileSync(join(out, "support.yaml"), "utf8"));
  expect(manifest.nodes[0].skipped).toContain("network/sockets");
  expect(manifest.nodes[0].collected).toEqual([]);
}, 60_000);
