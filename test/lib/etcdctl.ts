/**
 * etcdctl on the host as the independent check of a cluster's etcd: run inside the cluster's
 * network namespace, with a client certificate the test makes from the etcd CA of the cluster's
 * controlplane.yaml (any clientAuth certificate that CA signs is a client etcd accepts).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { fromPemPair, issueLeaf, type CertAndKey } from "../../core/pki/issue.ts";
import { privateKeyPem } from "../../core/pki/keys.ts";
import { certificatePem } from "../../core/pki/x509.ts";

export const etcdctlPath = ["/usr/bin/etcdctl", "/usr/local/bin/etcdctl"].find((p) => existsSync(p));
export const etcdPath = ["/usr/bin/etcd", "/usr/local/bin/etcd"].find((p) => existsSync(p));

export type Member = { ID: string | number; name?: string; peerURLs: string[]; clientURLs?: string[]; isLearner?: boolean };
export type EndpointStatus = { Endpoint: string; Status: { header: { member_id: number }; leader: number; raftIndex: number; dbSize: number } };
export interface Creds { cert: string; key: string }

/** The etcd CA of a cluster folder's controlplane.yaml. */
export function clusterEtcdCA(clusterDir: string): CertAndKey {
  const cfg = parse(readFileSync(join(clusterDir, "controlplane.yaml"), "utf8"));
  const unb64 = (s: string) => Buffer.from(s, "base64").toString("utf8");
  return fromPemPair({ crt: unb64(cfg.cluster.etcd.ca.crt), key: unb64(cfg.cluster.etcd.ca.key) }, "etcd CA");
}

/** A client certificate of `ca` written to DIR/PREFIX.crt and .key. */
export function writeEtcdClient(ca: CertAndKey, dir: string, prefix: string): Creds {
  const c = issueLeaf(ca, { commonName: "test-client", lifetime: 3600_000, usage: ["clientAuth"] });
  const cert = join(dir, `${prefix}.crt`);
  const key = join(dir, `${prefix}.key`);
  writeFileSync(cert, certificatePem(c.certificate));
  writeFileSync(key, privateKeyPem(c.key), { mode: 0o600 });
  return { cert, key };
}

/** etcdctl against one cluster: its namespace, its CA, a default client. */
export class Etcdctl {
  readonly caFile: string;
  readonly client: Creds;

  constructor(readonly netns: string, readonly dir: string, ca: CertAndKey) {
    this.caFile = join(dir, "etcd-ca.crt");
    writeFileSync(this.caFile, certificatePem(ca.certificate));
    this.client = writeEtcdClient(ca, dir, "client");
  }

  /** etcdctl at `endpoints` (addresses; port 2379); `creds` null: no client certificate at all. */
  async run(endpoints: string[], args: string[], creds: Creds | null = this.client, stdin?: string): Promise<{ code: number; out: string; err: string }> {
    const argv = ["ip", "netns", "exec", this.netns, etcdctlPath!, "--endpoints", endpoints.map((e) => `https://${e}:2379`).join(","),
      "--cacert", this.caFile, "--dial-timeout", "3s", "--command-timeout", "10s",
      ...(creds ? ["--cert", creds.cert, "--key", creds.key] : []), ...args];
    const p = Bun.spawn(argv, { stdin: stdin === undefined ? "ignore" : new Blob([stdin]), stdout: "pipe", stderr: "pipe", env: { ...process.env, ETCDCTL_API: "3" } });
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    return { code, out, err };
  }

  /** Writes keys PREFIX0000.. in transactions (at most 128 operations each, etcd's limit). */
  async putMany(endpoints: string[], prefix: string, n: number): Promise<void> {
    for (let i = 0; i < n; i += 125) {
      const puts = Array.from({ length: Math.min(125, n - i) }, (_, j) => `put ${prefix}${String(i + j).padStart(4, "0")} v${i + j}`);
      // No compares (the first blank line), the puts, no failure branch.
      const r = await this.run(endpoints, ["txn"], undefined, `\n${puts.join("\n")}\n\n\n`);
      if (r.code !== 0 || !r.out.includes("SUCCESS")) throw new Error(`txn at ${i}: ${r.err.trim() || r.out.trim()}`);
    }
  }

  /** How many keys under `prefix` one member holds itself (a serializable read: its own data, no leader asked). */
  async localCount(endpoint: string, prefix: string): Promise<number> {
    const r = await this.run([endpoint], ["get", prefix, "--prefix", "--keys-only", "--limit", "1", "--consistency", "s", "-w", "json"]);
    if (r.code !== 0) throw new Error(r.err.trim().split("\n").at(-1));
    return Number(JSON.parse(r.out).count ?? 0);
  }

  async members(endpoint: string): Promise<Member[]> {
    const r = await this.run([endpoint], ["member", "list", "-w", "json"]);
    if (r.code !== 0) throw new Error(r.err.trim().split("\n").at(-1));
    return (JSON.parse(r.out).members ?? []) as Member[];
  }

  /** Members that have started (they have a name) and vote. */
  async startedVoters(endpoint: string): Promise<Member[]> {
    return (await this.members(endpoint)).filter((x) => !!x.name && !x.isLearner);
  }

  async statuses(endpoints: string[]): Promise<EndpointStatus[]> {
    const r = await this.run(endpoints, ["endpoint", "status", "-w", "json"]);
    if (r.code !== 0) throw new Error(r.err.trim().split("\n").at(-1));
    return JSON.parse(r.out) as EndpointStatus[];
  }
}
