/**
 * Security: no secret of the machine config leaves init through the API. Two configured
 * control-plane nodes of one cluster run as the compiled binary in container mode; with an
 * admin, an operator and a reader certificate, directly and relayed from node a's apid to node
 * b, the test walks every resource type the node itself lists (ResourceDefinitions, read at run
 * time): Get of every id, List, Watch with bootstrap. Then the events, every service's log, an
 * admin's dry-run diff towards a config with other keys, and `bunkerctl get mc -o yaml` with a
 * reader and an admin certificate. No answer may carry a PEM private key, the CA or etcd CA key,
 * the join token or the cluster secret (the actual values, in every form the config files carry
 * them); a sensitive type answers non-admins PERMISSION_DENIED.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { bunker } from "../../core/api/gen/api.js";
import { MachineService, ResourceService } from "../../core/api/gen/services.ts";
import { GrpcClient } from "../../core/grpc/client.ts";
import { GrpcError, Status } from "../../core/grpc/status.ts";
import type { Metadata } from "../../core/grpc/metadata.ts";
import { toPemPair } from "../../core/pki/issue.ts";
import { generateSecrets } from "../../core/secrets/secrets.ts";
import { type ContainerNode, ctl, TestCluster } from "../lib/remote-cluster.ts";
import { Needles, secretCluster } from "../lib/secret-cluster.ts";

const secrets = generateSecrets();
const other = generateSecrets();
const cluster = new TestCluster(secrets.os);
chmodSync(cluster.dir, 0o711); // apid (uid 50 when init runs as root) reaches the state folders
let ep = { a: "", b: "" };
let nodes: ContainerNode[] = [];
const configs: Record<string, string> = {};
const clients: Record<string, GrpcClient> = {};
let nodeAConfig = "";
let otherConfig = "";
let needles = new Needles();
const leaks = (text: string) => needles.leaks(text);

/** Every answer the walk saw: who asked, what, and the answer as text. */
const answers: { who: string; what: string; text: string }[] = [];
const seen = (who: string, what: string, value: unknown) => {
  answers.push({ who, what, text: JSON.stringify(value, (_k, v) => (v instanceof Uint8Array ? new TextDecoder().decode(v) : v)) });
};

beforeAll(async () => {
  ({ ep, nodes, needles } = await secretCluster(cluster, secrets, "svc-credential-0123456789"));
  nodeAConfig = readFileSync(join(cluster.dir, "node-a.yaml"), "utf8");
  // The same node with every secret changed: a dry-run diff towards it would show old and new keys.
  const o = { ca: toPemPair(other.os), etcd: toPemPair(other.etcd) };
  const b64 = (s: string | Uint8Array) => Buffer.from(s).toString("base64");
  const next = parse(nodeAConfig);
  otherConfig = stringify({
    ...next, machine: { ...next.machine, token: other.token, ca: { crt: b64(o.ca.crt), key: b64(o.ca.key) } },
    cluster: { ...next.cluster, secret: b64(other.cluster.secret), etcd: { ca: { crt: b64(o.etcd.crt), key: b64(o.etcd.key) } } },
  });
  needles.add("new machine.ca.key", b64(o.ca.key));
  needles.add("new cluster.etcd.ca.key", b64(o.etcd.key));
  needles.add("new machine.token", other.token);
  needles.add("new cluster.secret", b64(other.cluster.secret));
  for (const n of nodes) n.start();

  for (const role of ["admin", "operator", "reader"] as const) {
    const pair = toPemPair(cluster.client([`os:${role}`]));
    configs[role] = cluster.config(role, { client: cluster.client([`os:${role}`]) }, [ep.a], [ep.a]);
    clients[role] = GrpcClient.tls({ address: ep.a, ca: toPemPair(secrets.os).crt, cert: pair.crt, key: pair.key });
  }
  for (const k of ["a", "b"] as const) {
    const h = await ctl(configs.admin, "health", "-e", ep[k], "-n", ep[k], "--wait-timeout", "60s");
    if (h.code !== 0) throw new Error(`node ${k} not ready: ${h.out}${h.err}`);
  }
}, 120_000);

afterAll(async () => {
  for (const c of Object.values(clients)) c.close();
  await Promise.all(nodes.map((n) => n.stop()));
  await cluster.close();
});

const routes: { name: string; md: Metadata }[] = [{ name: "direct", md: {} }, { name: "relayed a->b", md: { node: "" } }];
const ROLES = ["admin", "operator", "reader"] as const;

/** Runs a call and records its answer or its refusal; returns the answer or the error. */
async function record<T>(who: string, what: string, call: () => Promise<T>): Promise<T | GrpcError> {
  try {
    const r = await call();
    seen(who, what, r);
    return r;
  } catch (err) {
    if (!(err instanceof GrpcError)) throw err;
    seen(who, what, { code: err.code, message: err.message });
    return err;
  }
}

/** A stream's messages until `stop` says so (bounded: 10 s, then cancelled). */
async function collect<T>(it: AsyncGenerator<T>, stop: (m: T) => boolean): Promise<T[]> {
  const out: T[] = [];
  for await (const m of it) {
    out.push(m);
    if (stop(m) || out.length > 10_000) break;
  }
  return out;
}

test("every resource type, with every role, directly and relayed, carries no secret; sensitive types are admin-only", async () => {
  routes[1]!.md = { node: ep.b };
  const defs = await clients.admin!.unary(ResourceService.List, { namespace: "meta", type: "ResourceDefinitions.meta.bunker.dev" });
  const types = (defs.resources ?? []).map((r) => JSON.parse(r.specJson ?? "{}") as { type: string; namespace: string; sensitive?: boolean });
  expect(types.length).toBeGreaterThan(5);
  const mc = types.find((t) => t.type === "MachineConfigs.config.bunker.dev");
  expect(mc?.sensitive).toBe(true);
  let sensitiveRefusals = 0;
  let adminMcSeen = 0;
  for (const route of routes) {
    for (const role of ROLES) {
      const c = clients[role]!;
      const who = `${role} (${route.name})`;
      for (const t of types) {
        const opts = { metadata: route.md, timeoutMs: 10_000 };
        const list = await record(who, `List ${t.type}`, () => c.unary(ResourceService.List, { namespace: t.namespace, type: t.type }, opts));
        const watch = await record(who, `Watch ${t.type}`, () => collect(
          c.stream(ResourceService.Watch, { namespace: t.namespace, type: t.type, bootstrap: true }, { ...opts, signal: AbortSignal.timeout(10_000) }),
          (m) => m.type === bunker.resource.v1.EventType.EVENT_TYPE_BOOTSTRAPPED));
        if (t.sensitive && role !== "admin") {
          for (const r of [list, watch]) {
            expect(r).toBeInstanceOf(GrpcError);
            expect((r as GrpcError).code).toBe(Status.PERMISSION_DENIED);
            expect((r as GrpcError).message).toContain("sensitive");
            sensitiveRefusals++;
          }
        } else {
          expect(list).not.toBeInstanceOf(GrpcError);
          expect(watch).not.toBeInstanceOf(GrpcError);
        }
        // Get every id the admin sees (a reader must not learn them some other way either).
        const ids = (await clients.admin!.unary(ResourceService.List, { namespace: t.namespace, type: t.type }, opts)).resources?.map((r) => r.metadata?.id ?? "") ?? [];
        for (const id of ids) {
          const got = await record(who, `Get ${t.type} ${id}`, () => c.unary(ResourceService.Get, { namespace: t.namespace, type: t.type, id }, opts));
          if (t.sensitive && role !== "admin") expect((got as GrpcError).code).toBe(Status.PERMISSION_DENIED);
          if (t === mc && role === "admin") {
            const spec = JSON.parse((got as { resource: { specJson: string } }).resource.specJson);
            expect(spec.config.machine.ca.key).toBe("[redacted]");
            expect(spec.config.machine.ca.crt).toBe(parse(nodeAConfig).machine.ca.crt); // what is no secret stays
            expect(spec.raw).toContain("[redacted]");
            expect(spec.config.machine.network.hostname).toBe(route.name === "direct" ? "node-a" : "node-b"); // relayed for real
            adminMcSeen++;
          }
        }
      }
    }
  }
  expect(sensitiveRefusals).toBe(2 * 2 * 2); // two routes, two non-admin roles, List and Watch
  expect(adminMcSeen).toBe(2);
  const bad = answers.map((a) => ({ ...a, leaks: leaks(a.text) })).filter((a) => a.leaks.length);
  expect(bad.map((a) => `${a.who}: ${a.what}: ${a.leaks.join(", ")}`)).toEqual([]);
}, 300_000);

test("events, service logs and an admin's dry-run diff carry no secret", async () => {
  const c = clients.admin!;
  const local: typeof answers = [];
  const keep = (what: string, v: unknown) => local.push({ who: "admin", what, text: JSON.stringify(v, (_k, x) => (x instanceof Uint8Array ? new TextDecoder().decode(x) : x)) });
  // A dry run towards a config with every secret changed: the diff and changes name the paths only.
  const dry = await c.unary(MachineService.ApplyConfiguration, { data: new TextEncoder().encode(otherConfig), dryRun: true });
  keep("dry-run to new secrets", dry);
  expect(dry.changes?.map((x) => x.path)).toEqual(expect.arrayContaining(["machine.ca.key", "machine.token", "cluster.secret", "cluster.etcd.ca.key"]));
  expect(dry.diff).toContain("[redacted]");
  const same = await c.unary(MachineService.ApplyConfiguration, { data: new TextEncoder().encode(nodeAConfig.replace("node-a", "node-a2")), dryRun: true });
  keep("dry-run hostname change", same);
  expect(same.diff).toContain("node-a2");
  // A refused apply echoes nothing of what it was given.
  const broken = otherConfig.replace("version: v1alpha1", "version: v1alpha1\n  bad: [");
  keep("refused apply", await record("admin", "bad apply", () => c.unary(MachineService.ApplyConfiguration, { data: new TextEncoder().encode(broken), dryRun: true })));
  for (const role of ROLES) {
    keep(`events as ${role}`, await record(role, "events", () => collect(clients[role]!.stream(MachineService.Events, { tailEvents: -1 }, { timeoutMs: 10_000 }), () => false)));
  }
  const services = await c.unary(MachineService.ServiceList, {});
  for (const s of services.services ?? []) {
    keep(`logs of ${s.id}`, await record("admin", `logs ${s.id}`, () => collect(c.stream(MachineService.Logs, { id: s.id, tail: -1 }, { timeoutMs: 10_000 }), () => false)));
  }
  const bad = local.map((a) => ({ ...a, leaks: leaks(a.text) })).filter((a) => a.leaks.length);
  expect(bad.map((a) => `${a.what}: ${a.leaks.join(", ")}`)).toEqual([]);
}, 120_000);

test("bunkerctl get mc -o yaml: refused to a reader, redacted for an admin", async () => {
  for (const node of [ep.a, ep.b]) {
    const r = await ctl(configs.reader, "get", "mc", "-o", "yaml", "-n", node);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain("sensitive");
    expect(leaks(r.out + r.err)).toEqual([]);
    const w = await ctl(configs.reader, "get", "machineconfigs", "-n", node);
    expect(w.code).not.toBe(0);
    expect(leaks(w.out + w.err)).toEqual([]);
    const a = await ctl(configs.admin, "get", "mc", "-o", "yaml", "-n", node);
    expect(a.code).toBe(0);
    expect(a.out).toContain("[redacted]");
    expect(leaks(a.out + a.err)).toEqual([]);
  }
}, 120_000);
