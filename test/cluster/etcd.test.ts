/**
 * etcd on the control planes of a container-mode cluster (the compiled binary, as root, each node
 * in its own network namespace, the host's etcd 3.4): `bunkerctl bootstrap` on one control plane,
 * the other two join by themselves; etcdctl on the host, inside the cluster's namespace, with a
 * client certificate this test makes from the etcd CA of controlplane.yaml, is the independent
 * check: three started voting members with the expected peer URLs, one leader; a client without
 * a certificate, or with one from another CA, is refused; a second bootstrap is refused; after a
 * SIGKILL of every process of one control plane the other two elect a leader, and what was written
 * before is still there, and writes go on.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { issueLeaf, newEtcdCA, fromPemPair, type CertAndKey } from "../../core/pki/issue.ts";
import { privateKeyPem } from "../../core/pki/keys.ts";
import { certificatePem } from "../../core/pki/x509.ts";
import { netnsSkipReason } from "../lib/netns.ts";
import { ClusterHome } from "../lib/cluster-home.ts";

const etcdctlPath = ["/usr/bin/etcdctl", "/usr/local/bin/etcdctl"].find((p) => existsSync(p));
const etcdPath = ["/usr/bin/etcd", "/usr/local/bin/etcd"].find((p) => existsSync(p));
const skip = netnsSkipReason !== null || !etcdctlPath || !etcdPath;
const name = `e${process.pid % 100000}`;
const CPS = ["10.5.0.2", "10.5.0.3", "10.5.0.4"];
let root = "";
let state = "";
let bunkerconfig = "";
let created = { code: -1, out: "", err: "" };

let home: ClusterHome;
const ctl = (...args: string[]) => home.ctl(...args);

/** etcdctl inside the cluster's namespace; `creds` null: no client certificate at all. */
async function etcdctl(endpoints: string[], args: string[], creds: { cert: string; key: string } | null = { cert: join(root, "client.crt"), key: join(root, "client.key") }) {
  const argv = ["ip", "netns", "exec", `bunker-${name}`, etcdctlPath!, "--endpoints", endpoints.map((e) => `https://${e}:2379`).join(","),
    "--cacert", join(root, "etcd-ca.crt"), "--dial-timeout", "3s", "--command-timeout", "5s",
    ...(creds ? ["--cert", creds.cert, "--key", creds.key] : []), ...args];
  const p = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe", env: { ...process.env, ETCDCTL_API: "3" } });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}

/** Polls until `fn` returns a value (not undefined), at most `ms`; the last failure otherwise. */
async function eventually<T>(fn: () => Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  let last = "";
  for (let i = 0; ; i++) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) { last = err instanceof Error ? err.message : String(err); }
    if (Date.now() > end) throw new Error(`${what}: not within ${ms / 1000} s${last ? ` (last: ${last})` : ""}`);
    await Bun.sleep(Math.min(500 * (i + 1), 3000));
  }
}

type Member = { ID: string | number; name: string; peerURLs: string[]; clientURLs?: string[]; isLearner?: boolean };
async function members(endpoint: string): Promise<Member[] | undefined> {
  const r = await etcdctl([endpoint], ["member", "list", "-w", "json"]);
  if (r.code !== 0) throw new Error(r.err.trim().split("\n").at(-1));
  return (JSON.parse(r.out).members ?? []) as Member[];
}
type EndpointStatus = { Endpoint: string; Status: { header: { member_id: number }; leader: number; raftIndex: number; dbSize: number } };
async function statuses(endpoints: string[]): Promise<EndpointStatus[]> {
  const r = await etcdctl(endpoints, ["endpoint", "status", "-w", "json"]);
  if (r.code !== 0) throw new Error(r.err.trim().split("\n").at(-1));
  return JSON.parse(r.out) as EndpointStatus[];
}

function writeClient(ca: CertAndKey, prefix: string): { cert: string; key: string } {
  const c = issueLeaf(ca, { commonName: "test-client", lifetime: 3600_000, usage: ["clientAuth"] });
  const cert = join(root, `${prefix}.crt`);
  const key = join(root, `${prefix}.key`);
  writeFileSync(cert, certificatePem(c.certificate));
  writeFileSync(key, privateKeyPem(c.key), { mode: 0o600 });
  return { cert, key };
}

beforeAll(async () => {
  if (skip) return;
  home = new ClusterHome();
  ({ root, state, bunkerconfig } = home);
  created = await ctl("cluster", "create", "--provisioner", "container", "--name", name, "--controlplanes", "3", "--workers", "0", "--no-bootstrap", "--wait", "--wait-timeout", "3m");
  if (created.code !== 0) return;
  const cfg = parse(readFileSync(join(state, name, "controlplane.yaml"), "utf8"));
  const unb64 = (s: string) => Buffer.from(s, "base64").toString("utf8");
  const ca = fromPemPair({ crt: unb64(cfg.cluster.etcd.ca.crt), key: unb64(cfg.cluster.etcd.ca.key) }, "etcd CA");
  writeFileSync(join(root, "etcd-ca.crt"), certificatePem(ca.certificate));
  writeClient(ca, "client");
  writeClient(newEtcdCA(), "stranger");
}, 240_000);

afterAll(async () => {
  if (skip) return;
  if (existsSync(join(state, name))) await ctl("cluster", "destroy", "--name", name);
  home.remove();
}, 60_000);

test.skipIf(skip)("before bootstrap no control plane runs etcd, and the cluster is healthy regardless", async () => {
  expect(created.err).toBe("");
  expect(created.code).toBe(0);
  for (const n of CPS) {
    const s = await ctl("get", "etcdstatus", "-n", n, "-o", "json");
    expect(s.code).toBe(0);
    expect(JSON.parse(s.out)[0].spec.phase).toBe("waiting");
  }
  expect((await etcdctl([CPS[0]!], ["member", "list"])).code).not.toBe(0);
}, 60_000);

test.skipIf(skip)("bootstrap on one control plane: the other two join by themselves, three started voting members, one leader", async () => {
  const b = await ctl("bootstrap", "-n", CPS[0]!);
  expect(b.err).toBe("");
  expect(b.code).toBe(0);
  expect(b.out).toContain("bootstrapping a new etcd cluster");
  const list = await eventually(async () => {
    const m = await members(CPS[0]!);
    return m && m.length === 3 && m.every((x) => x.name !== "" && !x.isLearner) ? m : undefined;
  }, 150_000, "three started voting members");
  expect(list.map((m) => m.peerURLs).flat().sort()).toEqual(CPS.map((a) => `https://${a}:2380`));
  expect(list.map((m) => m.name).sort()).toEqual([1, 2, 3].map((i) => `${name}-controlplane-${i}`));
  const st = await eventually(async () => {
    const s = await statuses(CPS);
    return s.length === 3 && new Set(s.map((x) => x.Status.leader)).size === 1 ? s : undefined;
  }, 60_000, "every member names the same leader");
  const leader = st[0]!.Status.leader;
  expect(st.filter((x) => x.Status.header.member_id === leader)).toHaveLength(1);
  // Each node says it is a member; init's own view lists the three.
  for (const n of CPS) {
    const s = await eventually(async () => {
      const r = await ctl("get", "etcdstatus", "-n", n, "-o", "json");
      const spec = JSON.parse(r.out)[0].spec;
      return spec.phase === "member" ? spec : undefined;
    }, 60_000, `${n} reports itself a member`);
    expect(s.unmet).toBeUndefined();
  }
}, 300_000);

test.skipIf(skip)("bunkerctl etcd members and status: three members, one leader, each with its raft index and db size", async () => {
  const rows = await eventually(async () => {
    const r = await ctl("etcd", "members", "-n", CPS[1]!, "-o", "json");
    if (r.code !== 0) throw new Error(r.err);
    const m = JSON.parse(r.out) as { name: string; learner: boolean; peerURLs: string[] }[];
    return m.length === 3 && m.every((x) => x.name !== "" && !x.learner) ? m : undefined;
  }, 60_000, "etcd members lists three started voting members");
  expect(rows.flatMap((x) => x.peerURLs).sort()).toEqual(CPS.map((a) => `https://${a}:2380`));
  const st = await eventually(async () => {
    const r = await ctl("etcd", "status", "-n", CPS[1]!, "-o", "json");
    if (r.code !== 0) throw new Error(r.err);
    const s = JSON.parse(r.out)[0] as { etcd: { phase: string }; members: { leader: boolean; raftIndex: string; dbSize: number }[] };
    return s.members.length === 3 && s.members.filter((m) => m.leader).length === 1 && s.members.every((m) => m.raftIndex !== "") ? s : undefined;
  }, 60_000, "etcd status names one leader and every member's raft index");
  expect(st.etcd.phase).toBe("member");
  expect(st.members.every((m) => m.dbSize > 0)).toBe(true);
  const table = await ctl("etcd", "status", "-n", CPS[1]!);
  expect(table.code).toBe(0);
  expect(table.out).toContain("RAFT INDEX");
}, 150_000);

test.skipIf(skip)("a client without a certificate, or with one from another CA, is refused", async () => {
  const none = await etcdctl([CPS[0]!], ["get", "x"], null);
  expect(none.code).not.toBe(0);
  const stranger = await etcdctl([CPS[0]!], ["get", "x"], { cert: join(root, "stranger.crt"), key: join(root, "stranger.key") });
  expect(stranger.code).not.toBe(0);
  const ok = await etcdctl([CPS[0]!], ["get", "x"]);
  expect(ok.err).toBe("");
  expect(ok.code).toBe(0);
}, 60_000);

test.skipIf(skip)("a second bootstrap is refused, with the reason, on the bootstrapped node and on another", async () => {
  const again = await ctl("bootstrap", "-n", CPS[0]!);
  expect(again.code).not.toBe(0);
  expect(again.err).toContain("FAILED_PRECONDITION");
  expect(again.err).toContain("already has etcd data");
  const other = await ctl("bootstrap", "-n", CPS[2]!);
  expect(other.code).not.toBe(0);
  expect(other.err).toContain("bootstrap refused");
  expect((await members(CPS[0]!))!.length).toBe(3);
});

test.skipIf(skip)("SIGKILL of one control plane: the other two keep a leader, the data written before is there, writes go on", async () => {
  const N = 40;
  for (let i = 0; i < N; i++) {
    const r = await etcdctl(CPS, ["put", `k${String(i).padStart(3, "0")}`, `v${i}`]);
    expect(r.code).toBe(0);
  }
  const pids = Bun.spawnSync(["ip", "netns", "pids", `bunker-${name}-cp1`]).stdout.toString().trim().split("\n").filter((s) => s !== "");
  expect(pids.length).toBeGreaterThan(0);
  for (const p of pids) { try { process.kill(Number(p), "SIGKILL"); } catch { /* gone already */ } }
  const rest = CPS.slice(1);
  await eventually(async () => {
    const s = await statuses(rest);
    const ids = new Set(s.map((x) => x.Status.header.member_id));
    return s.length === 2 && s.every((x) => x.Status.leader !== 0 && ids.has(x.Status.leader)) ? true : undefined;
  }, 90_000, "a leader among the two left");
  const put = await eventually(async () => {
    const r = await etcdctl(rest, ["put", "after", "kill"]);
    return r.code === 0 ? r : undefined;
  }, 60_000, "a write through the two left");
  expect(put.out).toContain("OK");
  for (const n of rest) {
    const r = await etcdctl([n], ["get", "k", "--prefix", "--keys-only"]);
    expect(r.code).toBe(0);
    expect(r.out.split("\n").filter((l) => l.startsWith("k"))).toHaveLength(N);
    const a = await etcdctl([n], ["get", "after", "--print-value-only"]);
    expect(a.out.trim()).toBe("kill");
  }
}, 240_000);

test.skipIf(skip)("snapshot, remove-member of the dead node, leave: etcdctl sees the snapshot whole and the members drop to one", async () => {
  const rest = CPS.slice(1);
  // A snapshot through the API, checked by etcdctl on the host.
  const file = join(root, "snap.db");
  const snap = await ctl("etcd", "snapshot", file, "-n", rest[0]!);
  expect(snap.err).toBe("");
  expect(snap.code).toBe(0);
  expect(existsSync(`${file}.part`)).toBe(false);
  const st = Bun.spawnSync([etcdctlPath!, "snapshot", "status", file, "-w", "json"], { stderr: "pipe" });
  expect(st.exitCode).toBe(0);
  expect(JSON.parse(st.stdout.toString()).totalKey).toBeGreaterThanOrEqual(41);

  // etcdctl's JSON gives ids as numbers (JSON.parse rounds them): its plain output has them in hex.
  const table = (await etcdctl([rest[0]!], ["member", "list"])).out;
  const idOf = (peer: string) => table.split("\n").find((l) => l.includes(peer))!.split(",")[0]!.trim();
  expect(idOf(`https://${CPS[0]}:2380`)).toMatch(/^[0-9a-f]+$/);

  const self = await ctl("etcd", "remove-member", idOf(`https://${rest[0]}:2380`), "-n", rest[0]!);
  expect(self.code).not.toBe(0);
  expect(self.err).toContain("use bunkerctl etcd leave");

  const removed = await ctl("etcd", "remove-member", idOf(`https://${CPS[0]}:2380`), "-n", rest[0]!);
  expect(removed.err).toBe("");
  expect(removed.code).toBe(0);
  expect((await members(rest[0]!))!.length).toBe(2);

  const left = await ctl("etcd", "leave", "-n", rest[1]!);
  expect(left.err).toBe("");
  expect(left.code).toBe(0);
  const after = await eventually(async () => {
    const m = await members(rest[0]!);
    return m?.length === 1 ? m : undefined;
  }, 60_000, "one member left");
  expect(after[0]!.peerURLs).toEqual([`https://${rest[0]}:2380`]);
  // The node that left: etcd Skipped with the reason (not down), its etcd data gone.
  const svc = JSON.parse((await ctl("get", "service", "etcd", "-n", rest[1]!, "-o", "json")).out)[0].spec;
  expect(svc.state).toBe("Skipped");
  expect(svc.events.at(-1).message).toContain("left the etcd cluster");
  expect(existsSync(join(state, name, "nodes", `${name}-controlplane-3`, "state", "etcd", "member"))).toBe(false);
  const alone = await ctl("etcd", "leave", "-n", rest[0]!);
  expect(alone.code).not.toBe(0);
  expect(alone.err).toContain("only member");
  const a = await eventually(async () => {
    const r = await etcdctl([rest[0]!], ["get", "after", "--print-value-only"]);
    return r.code === 0 ? r : undefined;
  }, 60_000, "the last member serves reads");
  expect(a.out.trim()).toBe("kill");
}, 240_000);
