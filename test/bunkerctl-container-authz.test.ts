/**
 * The authorisation matrix against real nodes: three `bunker init --mode=container --api-listen`
 * (two configured control-plane nodes of one cluster, one in maintenance mode), bunkerctl (the
 * binary) with certificates issued by core/pki from the cluster's CA. Calls with side effects
 * that would take a node down are left to test/bunkerctl-container.test.ts; here every case is
 * "allowed" (the node answered: success, or its own error such as NOT_FOUND, never the role
 * table's refusal) or refused with the exit code and reason given. Relaying goes from node b's
 * apid to node a's (the control plane's endpoint in both configs, so a member for b) with b's
 * node certificate, as between real nodes.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { newClusterCA, type CertAndKey } from "../core/pki/issue.ts";
import { generateSecrets, saveSecrets } from "../core/secrets/secrets.ts";
import { ContainerNode, ctl, freePort, TestCluster } from "./lib/remote-cluster.ts";
import { eventually } from "./lib/eventually.ts";

const secrets = generateSecrets();
const cluster = new TestCluster(secrets.os);
// When init runs as root, apid runs as uid 50: it must be able to reach the state directories.
chmodSync(cluster.dir, 0o711);
const ep: Record<"a" | "b" | "m", string> = { a: "", b: "", m: "" };
const nodes: ContainerNode[] = [];
const configs: Record<string, string> = {};
let dryRunFile = "";

beforeAll(async () => {
  for (const k of ["a", "b", "m"] as const) ep[k] = `127.0.0.1:${await freePort()}`;
  const secretsFile = join(cluster.dir, "secrets.yaml");
  saveSecrets(secretsFile, secrets);
  const cfgDir = join(cluster.dir, "cfg");
  const gen = await ctl(undefined, "gen", "config", "demo", `https://${ep.a}`, "--with-secrets", secretsFile, "--output-dir", cfgDir);
  if (gen.code !== 0) throw new Error(`gen config: ${gen.err}`);
  const cp = parse(readFileSync(join(cfgDir, "controlplane.yaml"), "utf8"));
  for (const k of ["a", "b"] as const) {
    const file = join(cluster.dir, `node-${k}.yaml`);
    writeFileSync(file, stringify({ ...cp, machine: { ...cp.machine, network: { hostname: `node-${k}` } } }));
    nodes.push(new ContainerNode(join(cluster.dir, `state-${k}`), ep[k], file));
  }
  nodes.push(new ContainerNode(join(cluster.dir, "state-m"), ep.m, undefined));
  for (const n of nodes) n.start();
  dryRunFile = join(cluster.dir, "node-a.yaml");

  const id = (name: string, roles: string[], o: Parameters<TestCluster["client"]>[1] = {}, ca?: CertAndKey) =>
    (configs[name] = cluster.config(name, { client: cluster.client(roles, o), ...(ca ? { ca } : {}) }, [ep.a], [ep.a]));
  id("admin", ["os:admin"]);
  id("operator", ["os:operator"]);
  id("reader", ["os:reader"]);
  id("etcd", ["os:etcd:backup"]);
  id("norole", ["staff"]);
  id("impersonator", ["os:impersonator"]);
  id("expired", ["os:admin"], { expired: true });
  id("serverEku", ["os:admin"], { usage: ["serverAuth"] });
  id("rogue", ["os:admin"], { ca: newClusterCA() });
  id("wrongServerCa", ["os:admin"], {}, newClusterCA());
  configs.nocert = cluster.config("nocert", {}, [ep.a], [ep.a]);

  for (const k of ["a", "b"] as const) {
    const h = await ctl(configs.admin, "health", "-e", ep[k], "-n", ep[k], "--wait-timeout", "60s");
    if (h.code !== 0) throw new Error(`node ${k} not ready: ${h.out}${h.err}`);
  }
  // A node in maintenance mode answers Version but not resources (health): wait until it answers.
  if (!(await eventually(async () => (await ctl(undefined, "version", "--insecure", "-n", ep.m)).code === 0, 20_000))) throw new Error("the maintenance node does not answer Version");
}, 120_000);

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  await cluster.close();
});

const ALLOWED = "allowed";
type Expect = typeof ALLOWED | { exit: number; says: string };
const refused = (says: string, exit = 5): Expect => ({ exit, says });
const ROLE = "needs one of";
const MAINT = "not available in maintenance mode";

// [name, identity ("none": no client config), args (@a/@b/@m: node endpoints, @file: a config,
// @state: node a's state directory, the root container mode lets List and Read see), expected]
const cases: [string, string, string[], Expect][] = [
  ["no client certificate in the context", "nocert", ["version"], refused("bunkerctl gen config", 3)],
  ["no client certificate sent (--insecure) to a configured node", "admin", ["version", "--insecure", "-n", "@a"], refused("asks for a client certificate")],
  ["certificate of another CA", "rogue", ["version"], refused("not issued by the context's CA")],
  ["expired certificate", "expired", ["version"], refused("expired at")],
  ["certificate for servers only", "serverEku", ["version"], refused("lacks extended key usage clientAuth")],
  ["node's certificate not from the context's CA", "wrongServerCa", ["version"], refused("not trusted by the context's CA")],
  ["a role nobody has", "norole", ["version"], refused("the caller has no role")],
  ["os:etcd:backup calls nothing yet", "etcd", ["services"], refused(ROLE)],
  ["a user certificate claiming os:impersonator", "impersonator", ["version"], refused("the caller has no role")],
  ["reader: version", "reader", ["version"], ALLOWED],
  ["reader: services", "reader", ["services"], ALLOWED],
  ["reader: logs", "reader", ["logs", "apid", "--tail", "1"], ALLOWED],
  ["reader: events", "reader", ["events", "--tail", "1"], ALLOWED],
  ["reader: get", "reader", ["get", "machinestatus"], ALLOWED],
  ["reader: memory", "reader", ["memory"], ALLOWED],
  ["reader: health", "reader", ["health", "--wait-timeout", "5s"], ALLOWED],
  ["reader: restart a service", "reader", ["service", "nope", "restart"], refused(ROLE)],
  ["reader: reboot", "reader", ["reboot"], refused(ROLE)],
  ["reader: shutdown", "reader", ["shutdown"], refused(ROLE)],
  ["reader: reset", "reader", ["reset"], refused(ROLE)],
  ["reader: apply-config", "reader", ["apply-config", "-f", "@file", "--dry-run"], refused(ROLE)],
  ["reader: read", "reader", ["read", "/etc/hostname"], refused(ROLE)],
  ["reader: ls", "reader", ["ls", "/etc"], refused(ROLE)],
  ["operator: services", "operator", ["services"], ALLOWED],
  ["operator: restart a service (the node answers NOT_FOUND)", "operator", ["service", "nope", "restart"], ALLOWED],
  ["operator: reset", "operator", ["reset"], refused(ROLE)],
  ["operator: apply-config", "operator", ["apply-config", "-f", "@file", "--dry-run"], refused(ROLE)],
  ["operator: confirm", "operator", ["confirm"], refused(ROLE)],
  ["operator: read", "operator", ["read", "/etc/hostname"], refused(ROLE)],
  ["admin: apply-config --dry-run", "admin", ["apply-config", "-f", "@file", "--dry-run"], ALLOWED],
  ["admin: get rd", "admin", ["get", "rd"], ALLOWED],
  ["admin: read", "admin", ["read", "@state/apid/ca.crt"], ALLOWED],
  ["admin: ls", "admin", ["ls", "@state"], ALLOWED],
  ["relayed reader: version", "reader", ["version", "-e", "@b", "-n", "@a"], ALLOWED],
  ["relayed reader: services", "reader", ["services", "-e", "@b", "-n", "@a"], ALLOWED],
  ["relayed reader: reboot", "reader", ["reboot", "-e", "@b", "-n", "@a"], refused(ROLE)],
  ["relayed reader: read", "reader", ["read", "/etc/hostname", "-e", "@b", "-n", "@a"], refused(ROLE)],
  ["relayed operator: restart a service", "operator", ["service", "nope", "restart", "-e", "@b", "-n", "@a"], ALLOWED],
  ["relayed operator: reset", "operator", ["reset", "-e", "@b", "-n", "@a"], refused(ROLE)],
  ["relayed admin: apply-config --dry-run", "admin", ["apply-config", "-f", "@file", "--dry-run", "-e", "@b", "-n", "@a"], ALLOWED],
  ["relayed with an expired certificate", "expired", ["version", "-e", "@b", "-n", "@a"], refused("expired at")],
  // Each node relays only to members of its cluster, from its config: both configs name a as the
  // control plane's endpoint, so b relays to a (above) while a refuses to relay to b.
  ["relay to a node the config does not name", "admin", ["version", "-n", "@b"], refused("is not a member of this cluster")],
  ["relay to a port of this host that is no member", "reader", ["version", "-n", "127.0.0.1:22"], refused("is not a member of this cluster")],
  ["maintenance: version", "none", ["version", "--insecure", "-n", "@m"], ALLOWED],
  ["maintenance: disks", "none", ["disks", "--insecure", "-n", "@m"], ALLOWED],
  ["maintenance: memory", "none", ["memory", "--insecure", "-n", "@m"], ALLOWED],
  ["maintenance: apply-config --dry-run", "none", ["apply-config", "--insecure", "-n", "@m", "-f", "@file", "--dry-run"], ALLOWED],
  ["maintenance: services", "none", ["services", "--insecure", "-n", "@m"], refused(MAINT)],
  ["maintenance: reboot", "none", ["reboot", "--insecure", "-n", "@m"], refused(MAINT)],
  ["maintenance: reset", "none", ["reset", "--insecure", "-n", "@m"], refused(MAINT)],
  ["maintenance: logs", "none", ["logs", "apid", "--insecure", "-n", "@m"], refused(MAINT)],
  ["maintenance: an admin certificate opens nothing more", "admin", ["services", "--insecure", "-n", "@m"], refused(MAINT)],
  ["maintenance: its self-signed certificate is refused without --insecure", "admin", ["version", "-e", "@m", "-n", "@m"], refused("use --insecure")],
];

test("at least 30 cases, both outcomes", () => {
  expect(cases.length).toBeGreaterThanOrEqual(30);
  expect(cases.filter(([, , , e]) => e === ALLOWED).length).toBeGreaterThan(10);
  expect(cases.filter(([, , , e]) => e !== ALLOWED).length).toBeGreaterThan(10);
});

test.each(cases)("%s", async (_name, who, args, want) => {
  const argv = args.map((x) => (x === "@file" ? dryRunFile : x.startsWith("@state") ? join(cluster.dir, "state-a") + x.slice(6) : x.startsWith("@") ? ep[x.slice(1) as "a" | "b" | "m"] : x));
  const r = await ctl(who === "none" ? undefined : configs[who], ...argv);
  if (want === ALLOWED) {
    // The node answered: success, or its own error (1), never a refusal (5) nor unreachable (4).
    expect({ exit: r.code === 0 || r.code === 1 ? "answered" : r.code, refusal: /needs one of|maintenance mode|permission denied/.test(r.err) ? r.err : "" })
      .toEqual({ exit: "answered", refusal: "" });
  } else {
    expect({ exit: r.code, says: r.err.includes(want.says) ? want.says : r.err }).toEqual({ exit: want.exit, says: want.says });
  }
}, 30_000);

test("a relayed call is answered by the node named, with the caller's roles", async () => {
  // Through b: a, the control plane's endpoint, is the member b's config names.
  const v = JSON.parse((await ctl(configs.reader, "version", "-e", ep.b, "-n", `${ep.a},${ep.b}`, "-o", "json")).out);
  expect(v.map((x: { node: string; hostname: string }) => [x.node, x.hostname])).toEqual([[ep.a, "node-a"], [ep.b, "node-b"]]);
}, 30_000);
