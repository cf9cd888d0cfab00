/**
 * A worker asks trustd for its apid certificate: it makes its own key (which never leaves this
 * node), sends a certificate request with the join token in the metadata `token`, and checks that
 * trustd's serving certificate chains to the cluster CA it holds (so the token goes to no one
 * else). The control planes are tried in order (the cluster endpoint's addresses); the error
 * names each one tried and why.
 */
import { lookup } from "node:dns/promises";
import { SecurityService } from "../../core/api/gen/services.ts";
import { GrpcClient } from "../../core/grpc/client.ts";
import { isIP } from "../../core/ip/ip.ts";
import { createCsr } from "../../core/pki/csr.ts";
import { splitSans } from "../../core/pki/issue.ts";
import { generateKey, spkiDer } from "../../core/pki/keys.ts";
import { checkIssuedBy, loadCertificate, type Certificate } from "../../core/pki/x509.ts";
import type { KeyObject } from "node:crypto";

export const TRUSTD_PORT = 50001;

export interface JoinRequest {
  /** trustd addresses to try, "host:port" (IPv6 in brackets), each with the name to verify. */
  targets: { address: string; servername?: string }[];
  token: string;
  /** The cluster CA certificates (PEM) trustd's certificate must chain to. */
  ca: string;
  hostname: string;
  sans: string[];
  /** The port this node's apid serves on, so control planes can list it as a member. */
  apiPort?: number;
  timeoutMs?: number;
}

export interface Joined { certificate: Certificate; crtPem: string; key: KeyObject; from: string }

/** Every attempt failed: `reason` names each control plane and what it said. */
export class JoinError extends Error {
  constructor(readonly attempts: { target: string; reason: string }[]) {
    super(attempts.length ? attempts.map((a) => `trustd at ${a.target}: ${a.reason}`).join("; ") : "no control plane to ask (cluster.controlPlane.endpoint is unset)");
  }
}

/**
 * The trustd addresses to ask, in order: each address the cluster endpoint's host resolves to,
 * then each control-plane node of cluster.controlPlane.nodes (so a worker still renews when the
 * endpoint's node is down); all at `port`, each once.
 */
export async function trustdTargets(endpoint: string | undefined, port = TRUSTD_PORT, nodes: readonly string[] = []): Promise<JoinRequest["targets"]> {
  let host: string | undefined;
  try { host = endpoint ? new URL(endpoint).hostname.replace(/^\[(.*)\]$/, "$1") : undefined; } catch { /* validation names a bad endpoint */ }
  const out: JoinRequest["targets"] = [];
  for (const h of [...(host ? [host] : []), ...nodes]) {
    for (const t of await hostTargets(h, port)) if (!out.some((o) => o.address === t.address)) out.push(t);
  }
  return out;
}

async function hostTargets(host: string, port: number): Promise<JoinRequest["targets"]> {
  const at = (ip: string) => `${ip.includes(":") ? `[${ip}]` : ip}:${port}`;
  if (isIP(host)) return [{ address: at(host) }];
  try {
    const all = await lookup(host, { all: true });
    // A DNS name that resolves to several control planes: each is tried, each verified as the name.
    return all.map((a) => ({ address: at(a.address), servername: host }));
  } catch {
    return [{ address: at(host) }];
  }
}

export async function requestNodeCertificate(r: JoinRequest): Promise<Joined> {
  const key = generateKey("ed25519");
  const alt = splitSans([r.hostname, ...r.sans]);
  const csr = createCsr({ subject: { commonName: r.hostname, organizations: [] }, key, altNames: alt });
  const attempts: { target: string; reason: string }[] = [];
  for (const t of r.targets) {
    const client = GrpcClient.tls({ address: t.address, ca: r.ca, ...(t.servername ? { servername: t.servername } : {}) });
    try {
      const res = await client.unary(SecurityService.Certificate, { csr: csr.der, apiPort: r.apiPort ?? 0 }, { metadata: { token: r.token }, timeoutMs: r.timeoutMs ?? 10_000 });
      const crtPem = Buffer.from(res.crt ?? new Uint8Array()).toString("utf8");
      const certificate = loadCertificate(crtPem, "trustd's answer");
      if (Buffer.compare(certificate.publicKey.spki, spkiDer(key)) !== 0) throw new Error("the certificate is not for the key this node sent");
      const cas = r.ca.split(/(?=-----BEGIN CERTIFICATE-----)/).filter((p) => p.includes("BEGIN")).map((p) => loadCertificate(p, "cluster CA"));
      if (!cas.some((ca) => checkIssuedBy(certificate, ca).length === 0)) throw new Error("the certificate is not signed by the cluster CA this node holds");
      return { certificate, crtPem, key, from: t.address };
    } catch (err) {
      attempts.push({ target: t.address, reason: (err as Error).message });
    } finally {
      client.close();
    }
  }
  throw new JoinError(attempts);
}

/**
 * Tells each control plane where this node's apid serves, with its current certificate (so
 * control planes that did not sign it list it as a member too). Every target is tried; returns
 * the failures ("trustd at ADDRESS: why"), empty when all took it.
 */
export async function registerNode(r: { targets: JoinRequest["targets"]; crtPem: string; token: string; ca: string; apiPort?: number; timeoutMs?: number }): Promise<string[]> {
  const failures = await Promise.all(r.targets.map(async (t) => {
    const client = GrpcClient.tls({ address: t.address, ca: r.ca, ...(t.servername ? { servername: t.servername } : {}) });
    try {
      await client.unary(SecurityService.Register, { crt: Buffer.from(r.crtPem), apiPort: r.apiPort ?? 0 }, { metadata: { token: r.token }, timeoutMs: r.timeoutMs ?? 10_000 });
      return undefined;
    } catch (err) {
      return `trustd at ${t.address}: ${(err as Error).message}`;
    } finally {
      client.close();
    }
  }));
  return failures.filter((f): f is string => f !== undefined);
}
