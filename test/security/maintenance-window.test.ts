/**
 * Security: the maintenance window closes when the first config is committed. A container-mode
 * node boots without a config (apid asks for no client certificate); unauthenticated callers
 * loop against it (Version, Hostname, Disks, dry-runs of a config of their own, each on a
 * connection kept open or a new one) while the operator applies the cluster's config through the
 * same insecure listener. init records when it committed (the "maintenance window closed" event).
 * No unauthenticated call that started after that moment may succeed; no answer at any time may
 * carry the applied config's secrets; right after the operator's answer, a new unauthenticated
 * call and a second maintenance apply are refused; the node then serves the admin's certificate.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { MachineService } from "../../core/api/gen/services.ts";
import { GrpcClient } from "../../core/grpc/client.ts";
import { GrpcError, Status } from "../../core/grpc/status.ts";
import { toPemPair } from "../../core/pki/issue.ts";
import { generateSecrets, saveSecrets } from "../../core/secrets/secrets.ts";
import { ContainerNode, ctl, freePort, TestCluster } from "../lib/remote-cluster.ts";
import { eventually } from "../lib/eventually.ts";

const secrets = generateSecrets();
const cluster = new TestCluster(secrets.os);
chmodSync(cluster.dir, 0o711);
let ep = "";
let node: ContainerNode;
let config = "";
let attackerConfig = "";
let adminConfig = "";
const needles: string[] = [];

beforeAll(async () => {
  ep = `127.0.0.1:${await freePort()}`;
  const secretsFile = join(cluster.dir, "secrets.yaml");
  saveSecrets(secretsFile, secrets);
  const gen = await ctl(undefined, "gen", "config", "demo", `https://${ep}`, "--with-secrets", secretsFile, "--output-dir", join(cluster.dir, "cfg"));
  if (gen.code !== 0) throw new Error(`gen config: ${gen.err}`);
  config = readFileSync(join(cluster.dir, "cfg", "controlplane.yaml"), "utf8");
  const cp = parse(config);
  for (const v of [cp.machine.ca.key, cp.cluster.etcd.ca.key, cp.machine.token, cp.cluster.secret]) needles.push(v);
  needles.push(toPemPair(secrets.os).key.split("\n")[1]!); // the PEM body of the CA key
  // The attacker's own cluster: a valid config whose dry-run would diff against the node's.
  const own = generateSecrets();
  const b64 = (s: string | Uint8Array) => Buffer.from(s).toString("base64");
  attackerConfig = stringify({
    ...cp, machine: { ...cp.machine, token: own.token, ca: { crt: b64(toPemPair(own.os).crt), key: b64(toPemPair(own.os).key) }, network: { hostname: "taken" } },
    cluster: { ...cp.cluster, secret: b64(own.cluster.secret), etcd: { ca: { crt: b64(toPemPair(own.etcd).crt), key: b64(toPemPair(own.etcd).key) } } },
  });
  adminConfig = cluster.config("admin", { client: cluster.client(["os:admin"]) }, [ep], [ep]);
  node = new ContainerNode(join(cluster.dir, "state"), ep, undefined);
  node.start();
  if (!(await eventually(async () => (await ctl(undefined, "version", "--insecure", "-n", ep)).code === 0, 30_000))) {
    throw new Error("the node in maintenance mode never answered Version");
  }
}, 120_000);

afterAll(async () => {
  await node?.stop();
  await cluster.close();
});

interface Outcome { who: number; rpc: string; start: number; end: number; ok: boolean; code?: number; text: string }

const insecure = () => GrpcClient.tls({ address: ep, insecure: true });
const enc = (s: string) => new TextEncoder().encode(s);

/** One unauthenticated call of the rotation; never throws. */
async function attempt(c: GrpcClient, who: number, i: number): Promise<Outcome> {
  const start = Date.now();
  const o = { timeoutMs: 2000 };
  const calls: [string, () => Promise<unknown>][] = [
    ["Version", () => c.unary(MachineService.Version, {}, o)],
    ["ApplyConfiguration dry-run", () => c.unary(MachineService.ApplyConfiguration, { data: enc(attackerConfig), dryRun: true }, o)],
    ["Hostname", () => c.unary(MachineService.Hostname, {}, o)],
    ["Disks", () => c.unary(MachineService.Disks, {}, o)],
  ];
  const [rpc, call] = calls[i % calls.length]!;
  try {
    const r = await call();
    return { who, rpc, start, end: Date.now(), ok: true, text: JSON.stringify(r) };
  } catch (err) {
    const e = err instanceof GrpcError ? err : new GrpcError(Status.UNKNOWN, String(err));
    return { who, rpc, start, end: Date.now(), ok: false, code: e.code, text: e.message };
  }
}

test("no unauthenticated call succeeds after the first config is committed", async () => {
  const outcomes: Outcome[] = [];
  let stop = false;
  const loops = [0, 1, 2, 3, 4, 5].map(async (who) => {
    // Even: one connection kept open (it must be shut, not only the listener); odd: a new one per call.
    let kept = who % 2 === 0 ? insecure() : undefined;
    const end = Date.now() + 60_000;
    for (let i = 0; i < 3000 && !stop && Date.now() < end; i++) {
      const c = kept ?? insecure();
      outcomes.push(await attempt(c, who, i + who));
      if (!kept) c.close();
      else if (!outcomes.at(-1)!.ok && outcomes.at(-1)!.code === Status.UNAVAILABLE) { kept.close(); kept = insecure(); }
    }
    kept?.close();
  });
  // Let the attackers get going (each of the six has had answers), then the operator applies
  // through the same insecure listener.
  expect(await eventually(() => new Set(outcomes.map((o) => o.who)).size === 6, 15_000)).toBe(true);
  const op = insecure();
  // The attackers' dry runs keep init's config checker busy (one check at a time, four waiting):
  // the operator, as unauthenticated as they are here, gets UNAVAILABLE "busy" and tries again, as
  // a client is told to (bounded: 100 tries, 30 s).
  let applied: { message?: string | null } | undefined;
  for (let i = 0, end = Date.now() + 30_000; !applied && i < 100 && Date.now() < end; i++) {
    applied = await op.unary(MachineService.ApplyConfiguration, { data: enc(config) }, { timeoutMs: 20_000 }).catch(async (e: unknown) => {
      if (!(e instanceof GrpcError && e.code === Status.UNAVAILABLE && e.details.startsWith("busy"))) throw e;
      await Bun.sleep(50); // a client's pause before it tries again, as "busy" tells it to
      return undefined;
    });
  }
  if (!applied) throw new Error("the operator's apply was refused as busy for 30 s");
  const answered = Date.now();
  op.close();
  // Right after the answer: a new unauthenticated call, a second apply and a dry-run are refused.
  const after: Outcome[] = [];
  for (const [rpc, run] of [
    ["Version", (c: GrpcClient) => c.unary(MachineService.Version, {}, { timeoutMs: 3000 })],
    ["ApplyConfiguration", (c: GrpcClient) => c.unary(MachineService.ApplyConfiguration, { data: enc(attackerConfig) }, { timeoutMs: 3000 })],
    ["ApplyConfiguration dry-run", (c: GrpcClient) => c.unary(MachineService.ApplyConfiguration, { data: enc(attackerConfig), dryRun: true }, { timeoutMs: 3000 })],
  ] as const) {
    const c = insecure();
    const start = Date.now();
    try {
      after.push({ who: -1, rpc, start, end: Date.now(), ok: true, text: JSON.stringify(await run(c)) });
    } catch (err) {
      after.push({ who: -1, rpc, start, end: Date.now(), ok: false, code: (err as GrpcError).code, text: (err as Error).message });
    }
    c.close();
  }
  // The attackers keep trying against the restarted apid: a window in which none may get in.
  await Bun.sleep(2000);
  stop = true;
  await Promise.all(loops);

  expect(applied.message).toBeTruthy();
  expect(after.filter((o) => o.ok).map((o) => `${o.rpc} ${o.start - answered} ms after the operator's answer: ${o.text.slice(0, 300)}`)).toEqual([]);
  // When init committed: its event, read with the admin's certificate once apid serves mTLS.
  const h = await ctl(adminConfig, "health", "-e", ep, "-n", ep, "--wait-timeout", "60s");
  expect(h.code).toBe(0);
  const ev = await ctl(adminConfig, "events", "-e", ep, "-n", ep, "-o", "json");
  const line = ev.out.split("\n").find((l) => l.includes("maintenance window closed"));
  expect(line).toBeDefined();
  const committed = Number(JSON.parse(line!).time ?? Date.parse(JSON.parse(line!).Time));
  expect(committed).toBeLessThanOrEqual(answered);

  const before = outcomes.filter((o) => o.start < committed);
  const late = outcomes.filter((o) => o.start > committed);
  // The race happened: calls succeeded before the commit and were tried after it.
  expect(before.filter((o) => o.ok).length).toBeGreaterThan(0);
  expect(late.length).toBeGreaterThan(0);
  expect(late.filter((o) => o.ok).map((o) => `${o.rpc} started ${o.start - committed} ms after the commit: ${o.text.slice(0, 200)}`)).toEqual([]);
  // No answer at any time carries the node's secrets (a dry-run before the commit has no current config).
  const leaked = [...outcomes, ...after].filter((o) => needles.some((n) => o.text.includes(n)));
  expect(leaked.map((o) => `${o.rpc} at ${o.start - committed} ms`)).toEqual([]);
  // The node took the operator's config, not an attacker's.
  const host = await ctl(adminConfig, "get", "mc", "-o", "yaml", "-e", ep, "-n", ep);
  expect(host.out).not.toContain("taken");
  console.log(`maintenance race: ${outcomes.length} unauthenticated calls (${before.filter((o) => o.ok).length} answered before the commit, ${late.length} tried after it, 0 answered); the operator's answer came ${answered - committed} ms after the commit`);
}, 180_000);

test("once configured, the listener asks for a certificate: an unauthenticated apply is refused", async () => {
  // (Two maintenance applies racing inside init: services/init/api/server.test.ts, "the first config is one-shot".)
  const c = insecure();
  const r = await c.unary(MachineService.ApplyConfiguration, { data: enc(attackerConfig) }, { timeoutMs: 3000 }).then(() => "answered", (e: GrpcError) => e.code);
  c.close();
  expect(r).not.toBe("answered");
});
