/**
 * `bunkerctl rotate-ca` across three real control-plane nodes (`bunker init --mode=container`,
 * each with its own state dir and API port on loopback, all from one `gen config`): the old
 * admin certificate ends refused by every node, the new one accepted, every node's served
 * certificate verifies with openssl against the new CA, and every node answers at every step.
 * A stopped node stops the rotation before the old CA is dropped, named; re-running once it is
 * back completes. --dry-run changes nothing.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as tls from "node:tls";
import { MachineService as M } from "../../core/api/gen/services.ts";
import { currentContext, loadClientConfig } from "../../core/clientconfig/clientconfig.ts";
import { GrpcClient } from "../../core/grpc/client.ts";
import { parse, stringify } from "yaml";
import { generateSecrets, loadSecrets, saveSecrets } from "../../core/secrets/secrets.ts";
import { ContainerNode, ctl, freePort, TestCluster } from "../lib/remote-cluster.ts";
import { eventually } from "../lib/eventually.ts";

const secrets = generateSecrets();
const cluster = new TestCluster(secrets.os);
// When init runs as root, apid runs as uid 50: it must be able to reach the state directories.
chmodSync(cluster.dir, 0o711);
const cfgDir = join(cluster.dir, "cfg");
const secretsFile = join(cluster.dir, "secrets.yaml");
let admin = "";
let controlplane = "";
const nodes: ContainerNode[] = [];
const endpoints: string[] = [];

interface Creds { ca: string; cert: string; key: string }
const unb64 = (s: string) => Buffer.from(s, "base64").toString("utf8");

/** The credentials of the bunkerconfig's current context, as PEM. */
function credsOf(path: string): Creds {
  const { ctx } = currentContext(loadClientConfig(path));
  return { ca: unb64(ctx.ca), cert: unb64(ctx.crt), key: unb64(ctx.key) };
}

/** Version with these credentials, straight to the endpoint (no relaying): "ok" or the error. */
async function version(endpoint: string, c: Creds): Promise<string> {
  const g = GrpcClient.tls({ address: endpoint, ca: c.ca, cert: c.cert, key: c.key });
  try {
    await g.unary(M.Version, {}, { timeoutMs: 10_000 });
    return "ok";
  } catch (e) {
    return (e as Error).message;
  } finally {
    g.close();
  }
}

/** The certificate the node serves (PEM), read from a handshake that verifies nothing. */
async function servedCert(endpoint: string, c: Creds): Promise<string> {
  const [host, port] = endpoint.split(":");
  return await new Promise<string>((resolve, reject) => {
    const s = tls.connect({ host, port: Number(port), rejectUnauthorized: false, cert: c.cert, key: c.key, ALPNProtocols: ["h2"], minVersion: "TLSv1.3" }, () => {
      const raw = s.getPeerCertificate().raw;
      s.destroy();
      resolve(`-----BEGIN CERTIFICATE-----\n${raw.toString("base64").match(/.{1,64}/g)!.join("\n")}\n-----END CERTIFICATE-----\n`);
    });
    s.once("error", reject);
    s.setTimeout(10_000, () => { s.destroy(); reject(new Error(`no handshake with ${endpoint}`)); });
  });
}

/** openssl verify of the node's served certificate against a CA: "OK" or openssl's complaint. */
async function opensslVerify(endpoint: string, caPem: string, c: Creds): Promise<string> {
  const dir = join(cluster.dir, "verify");
  mkdirSync(dir, { recursive: true });
  const crt = join(dir, `${endpoint.replace(/\W/g, "_")}.pem`);
  const ca = join(dir, "ca.pem");
  writeFileSync(crt, await servedCert(endpoint, c));
  writeFileSync(ca, caPem);
  const r = Bun.spawnSync(["openssl", "verify", "-purpose", "sslserver", "-CAfile", ca, crt], { stdout: "pipe", stderr: "pipe" });
  return r.exitCode === 0 ? "OK" : `${r.stdout.toString()}${r.stderr.toString()}`.trim();
}

/** Every node's answer to these credentials, by endpoint. */
async function answers(c: Creds): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of endpoints) out[e] = await version(e, c);
  return out;
}

const all = (value: string) => Object.fromEntries(endpoints.map((e) => [e, value]));

/** Waits (bounded) until a node answers with the admin credentials. */
async function waitUp(endpoint: string, c: Creds): Promise<void> {
  let last = "";
  if (await eventually(async () => (last = await version(endpoint, c)) === "ok", 30_000)) return;
  throw new Error(`${endpoint} does not answer: ${last}`);
}

beforeAll(async () => {
  for (let i = 0; i < 3; i++) endpoints.push(`127.0.0.1:${await freePort()}`);
  saveSecrets(secretsFile, secrets);
  const gen = await ctl(undefined, "gen", "config", "demo", `https://${endpoints[0]}`, "--with-secrets", secretsFile, "--output-dir", cfgDir);
  if (gen.code !== 0) throw new Error(`gen config: ${gen.err}`);
  admin = join(cfgDir, "bunkerconfig");
  controlplane = join(cfgDir, "controlplane.yaml");
  expect((await ctl(admin, "config", "endpoint", ...endpoints)).code).toBe(0);
  expect((await ctl(admin, "config", "node", ...endpoints)).code).toBe(0);
  for (const [i, e] of endpoints.entries()) {
    // The config goes where init saves applied configs: a restarted node boots with the last one applied.
    const state = join(cluster.dir, `state${i}`);
    mkdirSync(state, { mode: 0o711 });
    copyFileSync(controlplane, join(state, "config.yaml"));
    const n = new ContainerNode(state, e, undefined);
    n.start();
    nodes.push(n);
  }
  const c = credsOf(admin);
  for (const e of endpoints) await waitUp(e, c);
}, 90_000);

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  await cluster.close();
});

test("--dry-run prints the plan and changes nothing", async () => {
  const before = { cfg: readFileSync(admin, "utf8"), cp: readFileSync(controlplane, "utf8"), secrets: readFileSync(secretsFile, "utf8") };
  const r = await ctl(admin, "rotate-ca", "--config", controlplane, "--secrets", secretsFile, "--dry-run");
  expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: "" });
  for (const e of endpoints) expect(r.out).toContain(`${e}  ${controlplane}  at pending: next accept, applies live (machine.acceptedCAs)`);
  expect(r.out).toContain("nothing is changed");
  expect(existsSync(`${admin}.rotate-ca.json`)).toBe(false);
  expect({ cfg: readFileSync(admin, "utf8"), cp: readFileSync(controlplane, "utf8"), secrets: readFileSync(secretsFile, "utf8") }).toEqual(before);
  const old = credsOf(admin);
  expect(await answers(old)).toEqual(all("ok"));
  for (const e of endpoints) expect(await opensslVerify(e, old.ca, old)).toBe("OK");
}, 60_000);

test("a --config that is not what the nodes run is refused before anything is made or sent", async () => {
  const before = readFileSync(admin, "utf8");
  const doc = parse(readFileSync(controlplane, "utf8"));
  doc.machine.certSANs = [...(doc.machine.certSANs ?? []), "extra.example"];
  const other = join(cluster.dir, "other.yaml");
  writeFileSync(other, stringify(doc));
  const r = await ctl(admin, "rotate-ca", "--config", other);
  expect(r.code).toBe(3);
  expect(r.err).toContain(`${endpoints[0]}: ${other} is not the config this node runs: it would also change machine.certSANs`);
  expect(existsSync(`${admin}.rotate-ca.json`)).toBe(false);
  expect(readFileSync(admin, "utf8")).toBe(before);
  const old = credsOf(admin);
  for (const e of endpoints) expect(await opensslVerify(e, old.ca, old)).toBe("OK");
}, 60_000);

test("rotation across three nodes: old admin refused at the end, new accepted, served certificates of the new CA", async () => {
  const old = credsOf(admin);
  // Step by step, checking every node answers between steps.
  const accept = await ctl(admin, "rotate-ca", "--config", controlplane, "--secrets", secretsFile, "--stop-after", "accept");
  expect({ code: accept.code, err: accept.err }).toEqual({ code: 0, err: "" });
  const state = JSON.parse(readFileSync(`${admin}.rotate-ca.json`, "utf8"));
  expect(Object.values(state.nodes).map((n) => (n as { step: string }).step)).toEqual(["accepted", "accepted", "accepted"]);
  const fresh: Creds = { ca: old.ca + unb64(state.newCa.crt), cert: unb64(state.newAdmin.crt), key: unb64(state.newAdmin.key) };
  expect(await answers(old)).toEqual(all("ok"));
  expect(await answers(fresh)).toEqual(all("ok"));
  for (const e of endpoints) expect(await opensslVerify(e, old.ca, old)).toBe("OK");

  const swap = await ctl(admin, "rotate-ca", "--stop-after", "swap");
  expect({ code: swap.code, err: swap.err }).toEqual({ code: 0, err: "" });
  const now = credsOf(admin);
  expect(now.cert).toBe(fresh.cert);
  expect(now.ca).toBe(unb64(state.newCa.crt));
  // The old admin still gets in (the old CA is accepted), the new one too; servers moved to the new CA.
  expect(await answers({ ...old, ca: now.ca })).toEqual(all("ok"));
  expect(await answers(now)).toEqual(all("ok"));
  for (const e of endpoints) expect(await opensslVerify(e, now.ca, now)).toBe("OK");
  expect(Object.keys(loadClientConfig(admin).contexts).sort()).toEqual(["demo", "demo-before-rotate"]);

  const drop = await ctl(admin, "rotate-ca");
  expect({ code: drop.code, err: drop.err }).toEqual({ code: 0, err: "" });
  expect(drop.out).toContain("rotate-ca: done");
  expect(await answers(now)).toEqual(all("ok"));
  const refused = await answers({ ...old, ca: now.ca });
  for (const e of endpoints) expect(refused[e]).not.toBe("ok");
  for (const e of endpoints) expect(await opensslVerify(e, now.ca, now)).toBe("OK");
  for (const e of endpoints) expect(await opensslVerify(e, old.ca, now)).not.toBe("OK");
  // The operator's files follow; the backup context and the state are gone.
  expect(readFileSync(controlplane, "utf8")).toContain(state.newCa.key);
  expect(readFileSync(controlplane, "utf8")).not.toContain("acceptedCAs");
  expect(loadSecrets(secretsFile).os.certificate.serial).not.toBe(secrets.os.certificate.serial);
  expect(Object.keys(loadClientConfig(admin).contexts)).toEqual(["demo"]);
  expect(existsSync(`${admin}.rotate-ca.json`)).toBe(false);
  // The node's saved config holds the new CA: a restart keeps it.
  expect(readFileSync(join(cluster.dir, "state0", "config.yaml"), "utf8")).toContain(state.newCa.crt);
}, 180_000);

test("a stopped node stops the rotation before the old CA is dropped, named; re-running once it is back completes", async () => {
  const old = credsOf(admin);
  const down = endpoints[2]!;
  await nodes[2]!.stop();
  const first = await ctl(admin, "rotate-ca", "--config", controlplane, "--secrets", secretsFile);
  expect(first.code).toBe(4);
  expect(first.err).toContain(`rotation stopped at step accept: not done on ${down}`);
  expect(first.err).toContain("the old CA stays accepted");
  // The reachable nodes still take the old admin certificate (and serve the old CA's certificate).
  for (const e of endpoints.slice(0, 2)) {
    expect(await version(e, old)).toBe("ok");
    expect(await opensslVerify(e, old.ca, old)).toBe("OK");
  }
  expect(credsOf(admin).cert).toBe(old.cert);
  // The plan of the rotation under way: where each node is; the dry run writes nothing.
  const statePath = `${admin}.rotate-ca.json`;
  const saved = readFileSync(statePath, "utf8");
  const plan = await ctl(admin, "rotate-ca", "--dry-run");
  expect(plan.code).toBe(4);
  expect(plan.out).toContain("resuming the rotation started at");
  for (const e of endpoints.slice(0, 2)) expect(plan.out).toContain(`${e}  ${controlplane}  at accepted: next swap, applies live (machine.acceptedCAs, machine.ca.crt, machine.ca.key)`);
  expect(plan.out).toContain(`${down}  ${controlplane}  at pending: next accept: connection refused`);
  expect(readFileSync(statePath, "utf8")).toBe(saved);

  // Back (from its saved config), and the same command resumes and completes.
  nodes[2] = new ContainerNode(join(cluster.dir, "state2"), down, undefined);
  nodes[2].start();
  await waitUp(down, old);
  // Every node answers all along: with the old admin certificate until the drop, the new one from the accept.
  const state = JSON.parse(saved);
  const fresh: Creds = { ca: old.ca + unb64(state.newCa.crt), cert: unb64(state.newAdmin.crt), key: unb64(state.newAdmin.key) };
  const either: Creds = { ...old, ca: fresh.ca };
  const lost: string[] = [];
  let polling = true;
  let rounds = 0;
  const poller = (async () => {
    for (let i = 0; polling && i < 2000; i++) {
      for (const e of endpoints) {
        if ((await version(e, either)) !== "ok" && (await version(e, fresh)) !== "ok") lost.push(e);
      }
      rounds++;
      // A sampling period while the rotation runs: each round looks for a node that answers neither.
      await Bun.sleep(50);
    }
  })();
  const second = await ctl(admin, "rotate-ca", "--config", controlplane, "--secrets", secretsFile);
  polling = false;
  await poller;
  expect(lost).toEqual([]);
  expect(rounds).toBeGreaterThan(0);
  expect({ code: second.code, err: second.err }).toEqual({ code: 0, err: "" });
  expect(second.out).toContain("resuming the rotation");
  const now = credsOf(admin);
  expect(now.ca).not.toBe(old.ca);
  expect(await answers(now)).toEqual(all("ok"));
  const refused = await answers({ ...old, ca: now.ca });
  for (const e of endpoints) expect(refused[e]).not.toBe("ok");
  for (const e of endpoints) expect(await opensslVerify(e, now.ca, now)).toBe("OK");
}, 180_000);
