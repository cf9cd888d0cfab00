/** etcd's certificates from the etcd CA of the config: peer and server for etcd, a client one for init. */
import { chmodSync, chownSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { EtcdTls } from "../../../core/etcd/client.ts";
import { writeFileAtomic } from "../../../core/fileio/atomic.ts";
import { fromPemPair, issueEtcdCert, issueLeaf, LIFETIME, type CertAndKey } from "../../../core/pki/issue.ts";
import { privateKeyPem } from "../../../core/pki/keys.ts";
import { certificatePem } from "../../../core/pki/x509.ts";
import type { EtcdConfig } from "./config.ts";

const unb64 = (s: string) => Buffer.from(s, "base64").toString("utf8");

/** The etcd CA of a control plane's config, or why this node runs no etcd. */
export function etcdCA(config: EtcdConfig | undefined): CertAndKey | string {
  const ca = config?.cluster?.etcd?.ca;
  if (!config) return "no machine config yet";
  if (!ca?.crt || !ca.key) return "this node is a worker (no cluster.etcd.ca.key): etcd runs on control planes only";
  return fromPemPair({ crt: unb64(ca.crt), key: unb64(ca.key) }, "cluster.etcd.ca");
}

/** Writes etcd's certificates: the folder 0700 and each file 0400, owned by etcd's uid (when it has one). */
export function writeEtcdCerts(dir: string, ca: CertAndKey, o: { hostname: string; addresses: string[]; owner?: { uid: number; gid: number }; lifetime?: number }): CertAndKey {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  if (o.owner) chownSync(dir, o.owner.uid, o.owner.gid);
  const sans = [...o.addresses, "localhost"];
  const peer = issueEtcdCert(ca, { hostname: o.hostname, sans, lifetime: o.lifetime ?? LIFETIME.node });
  const server = issueEtcdCert(ca, { hostname: o.hostname, sans, lifetime: o.lifetime ?? LIFETIME.node });
  const put = (name: string, text: string) => writeFileAtomic(join(dir, name), text, { mode: 0o400, overwrite: true, owner: o.owner });
  // Keys first: a certificate never names a key that is not there yet.
  put("peer.key", privateKeyPem(peer.key));
  put("peer.crt", certificatePem(peer.certificate));
  put("server.key", privateKeyPem(server.key));
  put("server.crt", certificatePem(server.certificate));
  put("ca.crt", certificatePem(ca.certificate));
  return peer;
}

/** init's own client certificate for etcd (clientAuth only, CN bunker-init), in memory. */
export function clientTls(ca: CertAndKey, hostname: string): EtcdTls {
  const c = issueLeaf(ca, { commonName: `bunker-init@${hostname}`, lifetime: LIFETIME.node, usage: ["clientAuth"] });
  return { ca: certificatePem(ca.certificate), cert: certificatePem(c.certificate), key: privateKeyPem(c.key) };
}
