/**
 * `bunkerctl cluster create` with the container provisioner, as an operator runs it (the compiled
 * binary, as root): 3 control planes and a worker, each in its own network namespace on the
 * cluster's bridge. Health passes; every node answers through one endpoint; openssl, inside the
 * cluster's namespace, verifies the worker's certificate against the cluster CA; every control
 * plane lists the worker; with the first control plane killed the next endpoint answers, the
 * worker included; destroy leaves no namespace, process, file or context behind.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { currentContext, loadClientConfig } from "../../core/clientconfig/clientconfig.ts";
import { bin } from "../lib/container-node.ts";
import { netnsSkipReason } from "../lib/netns.ts";
import { ClusterHome } from "../lib/cluster-home.ts";
import { eventually } from "../lib/eventually.ts";

const skip = netnsSkipReason !== null;
const name = `t${process.pid % 100000}`;
let root = "";
let state = "";
let bunkerconfig = "";
let created: { code: number; out: string; err: string } = { code: -1, out: "", err: "" };
let hostLinksBefore: string[] = [];
const hostLinks = () => (JSON.parse(Bun.spawnSync(["ip", "-j", "link", "show"]).stdout.toString()) as { ifname: string }[]).map((l) => l.ifname).sort();

let home: ClusterHome;
const ctl = (...args: string[]) => home.ctl(...args);

const netnsOfCluster = () => (Bun.spawnSync(["ip", "netns", "list"]).stdout.toString().split("\n").map((l) => l.split(" ")[0]!)).filter((n) => n === `bunker-${name}` || n.startsWith(`bunker-${name}-`));
const processesOfCluster = () => readdirSync("/proc").filter((p) => /^\d+$/.test(p)).filter((p) => {
  try { return readFileSync(`/proc/${p}/cmdline`, "utf8").includes(join(state, name)) || readFileSync(`/proc/${p}/cmdline`, "utf8").includes(`--netns bunker-${name}`); } catch { return false; }
});

beforeAll(async () => {
  if (skip) return;
  home = new ClusterHome();
  ({ root, state, bunkerconfig } = home);
  // An operator's existing context survives the merge.
  writeFileSync(bunkerconfig, "context: other\ncontexts:\n  other:\n    endpoints: [192.0.2.1]\n    nodes: []\n    ca: \"\"\n    crt: \"\"\n    key: \"\"\n", { mode: 0o600 });
  hostLinksBefore = hostLinks();
  created = await ctl("cluster", "create", "--provisioner", "container", "--name", name, "--controlplanes", "3", "--workers", "1", "--wait", "--wait-timeout", "3m");
}, 240_000);

afterAll(async () => {
  if (skip) return;
  if (existsSync(join(state, name)) || netnsOfCluster().length) await ctl("cluster", "destroy", "--name", name);
  home.remove();
}, 60_000);

test.skipIf(skip)("create --wait bootstraps etcd and ends healthy, after each check of each node", () => {
  expect(created.err).toBe("");
  expect(created.code).toBe(0);
  expect(created.out).toContain("control planes: 10.5.0.2, 10.5.0.3, 10.5.0.4");
  expect(created.out).toContain("workers: 10.5.0.5");
  expect(created.out.match(/ {2}OK: 4 nodes/g)?.length).toBe(4);
  // As talosctl does, the first control plane starts etcd (where the host has it) and the others join.
  expect(created.out).toMatch(Bun.which("etcd") ? /etcd bootstrapped on 10\.5\.0\.2/ : /etcd is not run on this cluster/);
  expect(created.out).toContain(`cluster ${name} is healthy`);
});

test.skipIf(skip)("the context is merged and current; the operator's other context stays", () => {
  const c = loadClientConfig(bunkerconfig);
  expect(Object.keys(c.contexts).sort()).toEqual(["other", name].sort());
  expect(currentContext(c).name).toBe(name);
  expect(c.contexts[name]!.endpoints).toHaveLength(3);
  expect(c.contexts[name]!.endpoints.every((e) => /^127\.0\.0\.1:\d+$/.test(e))).toBe(true);
});

test.skipIf(skip)("show lists the nodes running, with how the host reaches them", async () => {
  const s = await ctl("cluster", "show", "--name", name, "-o", "json");
  expect(s.code).toBe(0);
  const nodes = JSON.parse(s.out)[0].nodes as { name: string; role: string; address: string; running: boolean; api?: string }[];
  expect(nodes.map((n) => [n.name, n.role, n.address, n.running])).toEqual([
    [`${name}-controlplane-1`, "controlplane", "10.5.0.2", true],
    [`${name}-controlplane-2`, "controlplane", "10.5.0.3", true],
    [`${name}-controlplane-3`, "controlplane", "10.5.0.4", true],
    [`${name}-worker-1`, "worker", "10.5.0.5", true],
  ]);
});

test.skipIf(skip)("every node answers version through one endpoint, and the worker's services through a control plane", async () => {
  const ep = loadClientConfig(bunkerconfig).contexts[name]!.endpoints[0]!;
  const v = await ctl("-e", ep, "-n", "10.5.0.2,10.5.0.3,10.5.0.4,10.5.0.5", "version", "-o", "json");
  expect(v.err).toBe("");
  expect((JSON.parse(v.out) as { node: string; hostname: string }[]).map((x) => [x.node, x.hostname])).toEqual([
    ["10.5.0.2", `${name}-controlplane-1`], ["10.5.0.3", `${name}-controlplane-2`], ["10.5.0.4", `${name}-controlplane-3`], ["10.5.0.5", `${name}-worker-1`],
  ]);
  const s = await ctl("-n", "10.5.0.5", "services");
  expect(s.code).toBe(0);
  expect(s.out).toMatch(/10\.5\.0\.5 +apid +Running/);
});

test.skipIf(skip)("openssl verifies the worker's apid certificate against the cluster CA, from inside the cluster network", () => {
  const caFile = join(root, "ca.crt");
  writeFileSync(caFile, Buffer.from(loadClientConfig(bunkerconfig).contexts[name]!.ca, "base64"));
  const p = Bun.spawnSync(["ip", "netns", "exec", `bunker-${name}`, "openssl", "s_client", "-connect", "10.5.0.5:50000", "-CAfile", caFile, "-verify_return_error", "-verify_ip", "10.5.0.5", "-brief"],
    { stdin: new TextEncoder().encode("Q\n"), stdout: "pipe", stderr: "pipe" });
  const out = p.stdout.toString() + p.stderr.toString();
  expect(out).toContain("Verification: OK");
  // Nothing was attached to the host's own namespace: the cluster cannot send traffic out of its
  // own. (Other tests running meanwhile may add links of theirs: only names like ours count.)
  const added = hostLinks().filter((l) => !hostLinksBefore.includes(l));
  expect(added.filter((l) => /^(br0|eth0|cp\d+|w\d+)$/.test(l) || l.includes(name))).toEqual([]);
});

test.skipIf(skip)("every control plane lists the worker (registered with each, not only the one that signed)", async () => {
  for (const cp of ["10.5.0.2", "10.5.0.3", "10.5.0.4"]) {
    const listed = await eventually(async () => {
      const r = await ctl("-n", cp, "get", "trustdnodes", "-o", "json");
      return r.code === 0 && r.out.includes("10.5.0.5:50000");
    }, 30_000, 250);
    expect({ cp, listed }).toEqual({ cp, listed: true });
  }
}, 100_000);

test.skipIf(skip)("with the first control plane killed, bunkerctl fails over to the next endpoint; the others and the worker still answer", async () => {
  const pids = Bun.spawnSync(["ip", "netns", "pids", `bunker-${name}-cp1`]).stdout.toString().trim().split("\n").filter((s) => s !== "");
  expect(pids.length).toBeGreaterThan(0);
  for (const p of pids) process.kill(Number(p), "SIGKILL");
  const v = await ctl("-n", "10.5.0.3,10.5.0.4,10.5.0.5", "version", "-o", "json");
  expect(v.err).toBe("");
  expect((JSON.parse(v.out) as { node: string }[]).map((x) => x.node)).toEqual(["10.5.0.3", "10.5.0.4", "10.5.0.5"]);
  const h = await ctl("health", "--wait-timeout", "3s");
  expect(h.code).toBe(6);
  expect(h.err).toContain("10.5.0.2");
});

test.skipIf(skip)("create refuses a name that exists, and a non-root user, changing nothing", async () => {
  const again = await ctl("cluster", "create", "--provisioner", "container", "--name", name);
  expect(again.code).toBe(1);
  expect(again.err).toContain(`cluster ${name} exists`);
  const nobody = Bun.spawnSync(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", bin, "bunkerctl", "cluster", "create", "--provisioner", "container", "--name", `${name}x`, "--state", state],
    { stdout: "pipe", stderr: "pipe", env: { ...process.env, BUNKERCONFIG: bunkerconfig } });
  expect(nobody.exitCode).toBe(1);
  expect(nobody.stderr.toString()).toContain("needs root");
  expect(existsSync(join(state, `${name}x`))).toBe(false);
});

test.skipIf(skip)("destroy leaves no namespace, process, file or context behind", async () => {
  const d = await ctl("cluster", "destroy", "--name", name);
  expect(d.err).toBe("");
  expect(d.code).toBe(0);
  expect(netnsOfCluster()).toEqual([]);
  expect(processesOfCluster()).toEqual([]);
  expect(existsSync(join(state, name))).toBe(false);
  const c = loadClientConfig(bunkerconfig);
  expect(Object.keys(c.contexts)).toEqual(["other"]);
  const again = await ctl("cluster", "destroy", "--name", name);
  expect(again.code).toBe(1);
  expect(again.err).toContain(`no cluster ${name}`);
}, 60_000);
