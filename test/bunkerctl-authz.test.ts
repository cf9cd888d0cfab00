/**
 * The authorisation matrix, end to end: bunkerctl (the compiled binary) with certificates made
 * by core/pki, against the binary's apid (normal and maintenance mode) in front of stub inits.
 * Each case states the exit code expected and whether the call may reach the node; a call that
 * reached the node when it should not (wrongly allowed), or did not when it should (wrongly
 * denied), fails the case. Written out case by case, not computed from the role table.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { newClusterCA, type CertAndKey } from "../core/pki/issue.ts";
import type { StubNode } from "./lib/stub-node.ts";
import { ctl, freePort, TestCluster, type RunningApid } from "./lib/remote-cluster.ts";

const cluster = new TestCluster();
const rogueCa = newClusterCA();
const nextCa = newClusterCA(); // accepted by apid during a CA rotation
const nodes: Record<"a" | "b" | "m", { node: StubNode; apid: RunningApid }> = {} as never;
const configs: Record<string, string> = {};
let applyFile = "";

beforeAll(async () => {
  // Node a relays to b, a member of its cluster.
  const portB = await freePort();
  for (const [k, name, maintenance] of [["a", "node-a", false], ["b", "node-b", false], ["m", "fresh", true]] as const) {
    const s = await cluster.stub(name);
    const o = { maintenance, acceptedCa: maintenance ? undefined : nextCa, ...(k === "a" ? { members: [`127.0.0.1:${portB}`] } : k === "b" ? { port: portB } : {}) };
    nodes[k] = { node: s.node, apid: await cluster.apid(name, s.socket, o) };
  }
  const ids: Record<string, { client?: CertAndKey; ca?: CertAndKey }> = {
    admin: { client: cluster.client(["os:admin"]) },
    operator: { client: cluster.client(["os:operator"]) },
    reader: { client: cluster.client(["os:reader"]) },
    readerOperator: { client: cluster.client(["os:reader", "os:operator"]) },
    etcd: { client: cluster.client(["os:etcd:backup"]) },
    norole: { client: cluster.client(["staff"]) },
    impersonator: { client: cluster.client(["os:impersonator"]) },
    expired: { client: cluster.client(["os:admin"], { expired: true }) },
    serverEku: { client: cluster.client(["os:admin"], { usage: ["serverAuth"] }) },
    rogue: { client: cluster.client(["os:admin"], { ca: rogueCa }), ca: cluster.ca },
    wrongServerCa: { client: cluster.client(["os:admin"]), ca: rogueCa },
    rotated: { client: cluster.client(["os:admin"], { ca: nextCa }) },
    nocert: {},
  };
  for (const [name, id] of Object.entries(ids)) configs[name] = cluster.config(name, id, [nodes.a.apid.endpoint]);
  applyFile = join(cluster.dir, "worker.yaml");
  writeFileSync(applyFile, "version: v1alpha1\nmachine:\n  type: worker\n");
}, 60_000);

afterAll(() => cluster.close());

type Where = "a" | "b" | "m";
interface Case {
  who: string;
  args: string[];
  /** The stub that receives the call when allowed, and the RPC name it records. */
  at: Where;
  rpc: string;
  exit: number;
  /** A piece of stderr that explains the refusal. */
  says?: string;
}

const OK = 0;
const DENIED = 5;
const CONFIG = 3;
const relay = (args: string[]): string[] => [...args, "-n", "@b"];

const cases: [string, Case][] = [
  // Who you are: refused before any role is looked at.
  ["no client certificate (context has none)", { who: "nocert", args: ["version"], at: "a", rpc: "Version", exit: CONFIG, says: "bunkerctl gen config" }],
  ["no client certificate sent (--insecure to a configured node)", { who: "admin", args: ["version", "--insecure", "-e", "@a"], at: "a", rpc: "Version", exit: DENIED, says: "asks for a client certificate" }],
  ["certificate of another CA", { who: "rogue", args: ["version"], at: "a", rpc: "Version", exit: DENIED, says: "not issued by the context's CA" }],
  ["expired certificate", { who: "expired", args: ["version"], at: "a", rpc: "Version", exit: DENIED, says: "expired at" }],
  ["certificate for servers only (EKU serverAuth)", { who: "serverEku", args: ["version"], at: "a", rpc: "Version", exit: DENIED, says: "lacks extended key usage clientAuth" }],
  ["node's certificate not signed by the context's CA", { who: "wrongServerCa", args: ["version"], at: "a", rpc: "Version", exit: DENIED, says: "not trusted by the context's CA" }],
  ["certificate of the accepted CA during rotation", { who: "rotated", args: ["version"], at: "a", rpc: "Version", exit: OK }],
  ["a role nobody has (O=staff)", { who: "norole", args: ["version"], at: "a", rpc: "Version", exit: DENIED, says: "the caller has no role" }],
  ["os:etcd:backup alone calls no RPC yet", { who: "etcd", args: ["services"], at: "a", rpc: "ServiceList", exit: DENIED, says: "needs one of" }],
  ["a user certificate claiming os:impersonator gets no roles", { who: "impersonator", args: ["version"], at: "a", rpc: "Version", exit: DENIED, says: "the caller has no role" }],
  // Readers read.
  ["reader: version", { who: "reader", args: ["version"], at: "a", rpc: "Version", exit: OK }],
  ["reader: services", { who: "reader", args: ["services"], at: "a", rpc: "ServiceList", exit: OK }],
  ["reader: logs", { who: "reader", args: ["logs", "apid"], at: "a", rpc: "Logs", exit: OK }],
  ["reader: get", { who: "reader", args: ["get", "machinestatus"], at: "a", rpc: "List", exit: OK }],
  ["reader: memory", { who: "reader", args: ["memory"], at: "a", rpc: "Memory", exit: OK }],
  ["reader: restart a service", { who: "reader", args: ["service", "apid", "restart"], at: "a", rpc: "ServiceRestart", exit: DENIED, says: "ServiceRestart needs one of os:admin, os:operator; the caller has os:reader" }],
  ["reader: reboot", { who: "reader", args: ["reboot"], at: "a", rpc: "Reboot", exit: DENIED, says: "Reboot needs one of" }],
  ["reader: apply-config", { who: "reader", args: ["apply-config", "-f", "@file"], at: "a", rpc: "ApplyConfiguration", exit: DENIED, says: "needs one of os:admin" }],
  ["reader: read a file", { who: "reader", args: ["read", "/etc/hostname"], at: "a", rpc: "Read", exit: DENIED, says: "Read needs one of os:admin" }],
  ["reader: ls", { who: "reader", args: ["ls", "/var"], at: "a", rpc: "List", exit: DENIED, says: "List needs one of os:admin" }],
  // Operators disrupt but do not destroy.
  ["operator: reboot", { who: "operator", args: ["reboot"], at: "a", rpc: "Reboot", exit: OK }],
  ["operator: shutdown", { who: "operator", args: ["shutdown"], at: "a", rpc: "Shutdown", exit: OK }],
  ["operator: restart a service", { who: "operator", args: ["service", "apid", "restart"], at: "a", rpc: "ServiceRestart", exit: OK }],
  ["operator: reset", { who: "operator", args: ["reset"], at: "a", rpc: "Reset", exit: DENIED, says: "Reset needs one of os:admin; the caller has os:operator" }],
  ["operator: apply-config", { who: "operator", args: ["apply-config", "-f", "@file"], at: "a", rpc: "ApplyConfiguration", exit: DENIED }],
  ["operator: confirm", { who: "operator", args: ["confirm"], at: "a", rpc: "ConfirmConfiguration", exit: DENIED }],
  ["operator: read a file", { who: "operator", args: ["read", "/etc/hostname"], at: "a", rpc: "Read", exit: DENIED }],
  ["reader+operator: the larger role applies", { who: "readerOperator", args: ["reboot"], at: "a", rpc: "Reboot", exit: OK }],
  // Admins do everything.
  ["admin: reset", { who: "admin", args: ["reset", "--graceful"], at: "a", rpc: "Reset", exit: OK }],
  ["admin: apply-config", { who: "admin", args: ["apply-config", "-f", "@file"], at: "a", rpc: "ApplyConfiguration", exit: OK }],
  ["admin: confirm", { who: "admin", args: ["confirm"], at: "a", rpc: "ConfirmConfiguration", exit: OK }],
  ["admin: read a file", { who: "admin", args: ["read", "/etc/hostname"], at: "a", rpc: "Read", exit: OK }],
  ["admin: ls", { who: "admin", args: ["ls", "/var"], at: "a", rpc: "List", exit: OK }],
  // Relayed through node a to node b: checked at a with the caller's roles, applied again at b.
  ["relayed reader: version", { who: "reader", args: relay(["version"]), at: "b", rpc: "Version", exit: OK }],
  ["relayed reader: reboot", { who: "reader", args: relay(["reboot"]), at: "b", rpc: "Reboot", exit: DENIED, says: "Reboot needs one of" }],
  ["relayed reader: read a file", { who: "reader", args: relay(["read", "/etc/hostname"]), at: "b", rpc: "Read", exit: DENIED }],
  ["relayed operator: reboot", { who: "operator", args: relay(["reboot"]), at: "b", rpc: "Reboot", exit: OK }],
  ["relayed operator: reset", { who: "operator", args: relay(["reset"]), at: "b", rpc: "Reset", exit: DENIED }],
  ["relayed admin: reset", { who: "admin", args: relay(["reset"]), at: "b", rpc: "Reset", exit: OK }],
  ["relayed with an expired certificate", { who: "expired", args: relay(["version"]), at: "b", rpc: "Version", exit: DENIED }],
  // Maintenance mode: no certificate, a short list of RPCs.
  ["maintenance: version", { who: "none", args: ["version", "--insecure", "-n", "@m"], at: "m", rpc: "Version", exit: OK }],
  ["maintenance: disks", { who: "none", args: ["disks", "--insecure", "-n", "@m"], at: "m", rpc: "Disks", exit: OK }],
  ["maintenance: memory", { who: "none", args: ["memory", "--insecure", "-n", "@m"], at: "m", rpc: "Memory", exit: OK }],
  ["maintenance: apply-config", { who: "none", args: ["apply-config", "--insecure", "-n", "@m", "-f", "@file"], at: "m", rpc: "ApplyConfiguration", exit: OK }],
  ["maintenance: reboot", { who: "none", args: ["reboot", "--insecure", "-n", "@m"], at: "m", rpc: "Reboot", exit: DENIED, says: "not available in maintenance mode" }],
  ["maintenance: reset", { who: "none", args: ["reset", "--insecure", "-n", "@m"], at: "m", rpc: "Reset", exit: DENIED }],
  ["maintenance: services", { who: "none", args: ["services", "--insecure", "-n", "@m"], at: "m", rpc: "ServiceList", exit: DENIED }],
  ["maintenance: logs", { who: "none", args: ["logs", "apid", "--insecure", "-n", "@m"], at: "m", rpc: "Logs", exit: DENIED }],
  ["maintenance: read a file", { who: "none", args: ["read", "/etc/hostname", "--insecure", "-n", "@m"], at: "m", rpc: "Read", exit: DENIED }],
  ["maintenance: an admin certificate does not open more", { who: "admin", args: ["services", "--insecure", "-e", "@m"], at: "m", rpc: "ServiceList", exit: DENIED }],
  ["maintenance: its self-signed certificate is refused without --insecure", { who: "admin", args: ["version", "-e", "@m"], at: "m", rpc: "Version", exit: DENIED, says: "use --insecure" }],
];

test("at least 30 cases, both outcomes, every role", () => {
  expect(cases.length).toBeGreaterThanOrEqual(30);
  expect(cases.filter(([, c]) => c.exit === OK).length).toBeGreaterThan(10);
  expect(cases.filter(([, c]) => c.exit !== OK).length).toBeGreaterThan(10);
});

test.each(cases)("%s", async (_name, c) => {
  const args = c.args.map((x) => (x === "@file" ? applyFile : x.startsWith("@") ? nodes[x.slice(1) as Where].apid.endpoint : x));
  const target = nodes[c.at].node;
  const before = target.count(c.rpc);
  const r = await ctl(c.who === "none" ? undefined : configs[c.who], ...args);
  const reached = target.count(c.rpc) - before;
  // One object, so a failure shows everything at once.
  expect({ exit: r.code, reachedNode: reached > 0, err: c.says && !r.err.includes(c.says) ? r.err : "" })
    .toEqual({ exit: c.exit, reachedNode: c.exit === OK, err: "" });
  if (c.exit === OK && c.at !== "m") {
    // The node saw the caller's own roles, whoever relayed the call.
    const roles = target.calls.filter((x) => x.method === c.rpc).at(-1)!.roles;
    expect(roles).toBe({ admin: "os:admin", operator: "os:operator", reader: "os:reader", readerOperator: "os:reader,os:operator", rotated: "os:admin" }[c.who]!);
  }
}, 30_000);
