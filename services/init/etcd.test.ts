/**
 * etcd's plan (addresses, candidates, the config file, certificate files) and the client against
 * a real etcd 3.4 on loopback, started from the very config file and certificates init writes.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { alarm, defragment, health, memberAdd, memberList, memberRemove, status, hexId, type EtcdTls } from "../../core/etcd/client.ts";
import { etcdctlBinary, restoreSnapshot, RestoreError, snapshotStatus } from "../../core/etcd/restore.ts";
import { newEtcdCA } from "../../core/pki/issue.ts";
import { writeFileAtomic } from "../../core/fileio/atomic.ts";
import { privateKeyPem } from "../../core/pki/keys.ts";
import { certificatePem } from "../../core/pki/x509.ts";
import { eventually } from "../../test/lib/eventually.ts";
import { clientTls, EtcdNode, etcdBinary, etcdCA, etcdConfigFile, initialCluster, joinCandidates, ownAddress, urlOf, writeEtcdCerts } from "./etcd.ts";

const b64 = (s: string) => Buffer.from(s).toString("base64");

test("the advertised address: this node's among cluster.controlPlane.nodes, else its first global IPv4", () => {
  const cfg = { cluster: { controlPlane: { nodes: ["10.5.0.2", "10.5.0.3"] } } };
  expect(ownAddress(cfg, ["127.0.0.1", "::1", "10.5.0.3"])).toBe("10.5.0.3");
  expect(ownAddress({}, ["127.0.0.1", "fe80::1", "fd00::5", "192.168.1.4"])).toBe("192.168.1.4");
  expect(ownAddress({}, ["127.0.0.1", "fd00::5"])).toBe("fd00::5");
  expect(ownAddress({}, ["127.0.0.1", "::1"])).toBe("127.0.0.1");
});

test("join candidates: the other control planes and the endpoint's host, never this node", () => {
  const cfg = { cluster: { controlPlane: { endpoint: "https://10.5.0.9:50000", nodes: ["10.5.0.2", "10.5.0.3", "10.5.0.2"] } } };
  expect(joinCandidates(cfg, ["10.5.0.2"])).toEqual(["10.5.0.3", "10.5.0.9"]);
  expect(joinCandidates({ cluster: { controlPlane: { endpoint: "https://10.5.0.2:50000" } } }, ["10.5.0.2"])).toEqual([]);
  expect(urlOf("fd00::1", 2379)).toBe("https://[fd00::1]:2379");
});

test("initial cluster as etcdctl prints it: the new member by its name, unstarted others without one", () => {
  const m = [
    { id: "1", name: "a", peerURLs: ["https://10.5.0.2:2380"], clientURLs: [], isLearner: false },
    { id: "2", name: "", peerURLs: ["https://10.5.0.3:2380"], clientURLs: [], isLearner: true },
  ];
  expect(initialCluster(m, { id: "2", name: "b" })).toBe("a=https://10.5.0.2:2380,b=https://10.5.0.3:2380");
});

test("a worker's config or none: no etcd, with the reason", () => {
  expect(etcdCA(undefined)).toBe("no machine config yet");
  expect(etcdCA({ cluster: { etcd: { ca: { crt: "eA==" } } } })).toContain("worker");
});

test("certificate files: folder 0700, files 0400; the peer certificate names the node's addresses", () => {
  const dir = mkdtempSync(join(tmpdir(), "etcd-certs-"));
  try {
    const peer = writeEtcdCerts(join(dir, "tls"), newEtcdCA(), { hostname: "cp1", addresses: ["10.5.0.2", "127.0.0.1"] });
    expect(statSync(join(dir, "tls")).mode & 0o777).toBe(0o700);
    for (const f of ["peer.crt", "peer.key", "server.crt", "server.key", "ca.crt"]) expect(statSync(join(dir, "tls", f)).mode & 0o777).toBe(0o400);
    expect(peer.certificate.extensions.altNames?.ips).toContain("10.5.0.2");
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
  });
}

const etcdctlPath = etcdctlBinary();

describe.skipIf(!etcdBinary() || !etcdctlPath)("against a real etcd", () => {
  const dir = mkdtempSync(join(tmpdir(), "etcd-real-"));
  const ca = newEtcdCA();
  let proc: ReturnType<typeof Bun.spawn> | undefined;
  let url = "";
  let tls: EtcdTls;

  beforeAll(async () => {
    const [client, peer] = [await freePort(), await freePort()];
    writeEtcdCerts(join(dir, "tls"), ca, { hostname: "solo", addresses: ["127.0.0.1"] });
    const conf = join(dir, "tls", "etcd.conf.json");
    writeFileAtomic(conf, etcdConfigFile({
      name: "solo", dataDir: join(dir, "data"), certDir: join(dir, "tls"), address: "127.0.0.1", clientPort: client, peerPort: peer,
      state: "new", initialCluster: `solo=${urlOf("127.0.0.1", peer)}`,
    }), { mode: 0o400, overwrite: true });
    proc = Bun.spawn([etcdBinary()!, "--config-file", conf], { stdout: "ignore", stderr: "ignore" });
    url = urlOf("127.0.0.1", client);
    tls = clientTls(ca, "test");
    // A health call that still fails at the end is thrown, saying why etcd is not up.
    await eventually(async () => { await health(url, tls, 2000); return true; }, 40_000);
  }, 60_000);

  /** etcdctl against the test's etcd, with a client certificate of the CA. */
  async function ctl(args: string[], endpoint = url): Promise<{ code: number; out: string }> {
    const c = clientTls(ca, "etcdctl");
    const f = (n: string, text: string) => { const p = join(dir, n); writeFileSync(p, text, { mode: 0o600 }); return p; };
    const argv = [etcdctlPath!, "--endpoints", endpoint, "--cacert", f("ctl-ca.crt", c.ca), "--cert", f("ctl.crt", c.cert), "--key", f("ctl.key", c.key), "--command-timeout", "5s", ...args];
    const p = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe", env: { ...process.env, ETCDCTL_API: "3" } });
    const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
    return { code, out };
  }

  afterAll(() => {
    proc?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  test("one member, its own leader; the id survives all 64 bits", async () => {
    const m = await memberList(url, tls);
    expect(m).toHaveLength(1);
    expect(m[0]!.name).toBe("solo");
    const s = await status(url, tls);
    expect(s.leader).toBe(m[0]!.id);
    expect(s.memberId).toBe(m[0]!.id);
    expect(BigInt(`0x${hexId(m[0]!.id)}`).toString()).toBe(m[0]!.id);
    expect(s.version).toMatch(/^3\.4\./);
  });

  test("a client certificate from another CA is refused", async () => {
    const stranger = clientTls(newEtcdCA(), "stranger");
    // etcd checks the client certificate against its CA: the handshake fails.
    await expect(memberList(url, { ...stranger, ca: tls.ca }, 3000)).rejects.toThrow(/etcd at/);
    await expect(health(url, { ...stranger, ca: tls.ca }, 3000)).rejects.toThrow(/etcd at/);
  });

  test("learners: one may wait unstarted, a second is refused until the first is gone", async () => {
    const a = await memberAdd(url, ["https://127.0.0.2:2380"], tls, true);
    expect(a.member.isLearner).toBe(true);
    expect(a.members.length).toBe(2);
    await expect(memberAdd(url, ["https://127.0.0.3:2380"], tls, true)).rejects.toThrow(/too many learner/);
    await memberRemove(url, a.member.id, tls);
    expect(await memberList(url, tls)).toHaveLength(1);
  });

  test("alarms: none, a NOSPACE raised stops writes, listed with its member; deactivated, writes go on", async () => {
    expect(await alarm(url, tls)).toEqual([]);
    const me = (await memberList(url, tls))[0]!.id;
    await alarm(url, tls, "activate", { memberId: me, alarm: "NOSPACE" });
    expect(await alarm(url, tls)).toEqual([{ memberId: me, alarm: "NOSPACE" }]);
    expect((await ctl(["put", "blocked", "x"])).code).not.toBe(0);
    await alarm(url, tls, "deactivate", { memberId: me, alarm: "NOSPACE" });
    expect(await alarm(url, tls)).toEqual([]);
    expect((await ctl(["put", "blocked", "x"])).code).toBe(0);
  });

  test("a control plane whose hostname a member already has is not added, and says why", async () => {
    const said: string[] = [];
    let started = 0;
    const solo = new URL(url);
    const node = new EtcdNode({
      dataDir: join(dir, "twin-data"), runDir: join(dir, "twin-run"), clientPort: Number(solo.port), peerPort: await freePort(),
      current: () => ({ config: { cluster: { etcd: { ca: { crt: b64(certificatePem(ca.certificate)), key: b64(privateKeyPem(ca.key)) } }, controlPlane: { nodes: ["127.0.0.1"] } } }, hostname: "solo" }),
      // Its own address is loopback too (a lone host), on another peer port: another member to etcd.
      addresses: () => ["127.0.0.9"],
      start: async () => { started++; }, stop: async () => {}, running: () => false,
      onStatus: (st) => { if (st.unmet) said.push(st.unmet); }, onEvent: () => {}, retryMs: 200, retryMaxMs: 400,
    });
    try {
      node.configure();
      await eventually(() => said.some((x) => x.includes("hostname")), 10_000);
    } finally { node.stop(); }
    expect(said.find((x) => x.includes("hostname"))).toContain("already has this node's hostname solo");
    expect(started).toBe(0);
    expect(await memberList(url, tls)).toHaveLength(1);
  });

  test("defragment answers, and the member serves after it", async () => {
    await defragment(url, tls, 60_000);
    expect((await status(url, tls)).dbSize).toBeGreaterThan(0);
  });

  test.skipIf(!etcdctlBinary())("a snapshot restored by etcdctl into a new data folder: a new cluster of one with the keys", async () => {
    for (let i = 0; i < 20; i++) expect((await ctl(["put", `r${i}`, `v${i}`])).code).toBe(0);
    const snap = join(dir, "snap.db");
    expect((await ctl(["snapshot", "save", snap])).code).toBe(0);
    expect((await snapshotStatus(etcdctlBinary()!, snap)).totalKey).toBeGreaterThanOrEqual(20);
    const [client, peer] = [await freePort(), await freePort()];
    const data = join(dir, "restored");
    const info = await restoreSnapshot(etcdctlBinary()!, snap, { dataDir: data, name: "again", peerURL: urlOf("127.0.0.1", peer), token: "bunker" });
    expect(info.totalKey).toBeGreaterThanOrEqual(20);
    expect(existsSync(join(data, "member"))).toBe(true);
    // A second restore onto it is refused: a restore starts from no data.
    await expect(restoreSnapshot(etcdctlBinary()!, snap, { dataDir: data, name: "again", peerURL: urlOf("127.0.0.1", peer), token: "bunker" })).rejects.toThrow(RestoreError);
    // A file that is no snapshot is refused, without its path in the message.
    const junk = join(dir, "junk.db");
    writeFileSync(junk, "not a database");
    const bad = await restoreSnapshot(etcdctlBinary()!, junk, { dataDir: join(dir, "never"), name: "x", peerURL: urlOf("127.0.0.1", peer), token: "bunker" }).then(() => undefined, (e: Error) => e);
    expect(bad).toBeInstanceOf(RestoreError);
    expect(bad!.message).not.toContain(junk);
    expect(existsSync(join(dir, "never"))).toBe(false);

    writeEtcdCerts(join(dir, "tls2"), ca, { hostname: "again", addresses: ["127.0.0.1"] });
    const conf = join(dir, "tls2", "etcd.conf.json");
    writeFileAtomic(conf, etcdConfigFile({
      name: "again", dataDir: data, certDir: join(dir, "tls2"), address: "127.0.0.1", clientPort: client, peerPort: peer,
      state: "new", initialCluster: `again=${urlOf("127.0.0.1", peer)}`,
    }), { mode: 0o400, overwrite: true });
    const p2 = Bun.spawn([etcdBinary()!, "--config-file", conf], { stdout: "ignore", stderr: "ignore" });
    try {
      const url2 = urlOf("127.0.0.1", client);
      expect(await eventually(async () => { await health(url2, tls, 2000); return true; }, 30_000)).toBe(true);
      const m = await memberList(url2, tls);
      expect(m.map((x) => x.name)).toEqual(["again"]);
      const got = await ctl(["get", "r", "--prefix", "--keys-only"], url2);
      expect(got.out.split("\n").filter((l) => l.startsWith("r"))).toHaveLength(20);
    } finally {
      p2.kill("SIGKILL");
      await p2.exited;
    }
  }, 60_000);
});

test("the etcd CA of a control plane's config is read from its base64 PEM", () => {
  const ca = newEtcdCA();
  const crt = b64(certificatePem(ca.certificate));
  const key = b64(privateKeyPem(ca.key));
  const got = etcdCA({ cluster: { etcd: { ca: { crt, key } } } });
  expect(typeof got).not.toBe("string");
});
