/**
 * The certificates Bunker issues, each a fixed profile: who signs it, its key type, lifetime,
 * key usage, extended key usage and names. Callers choose a profile, not extension bits.
 */
import type { KeyObject } from "node:crypto";
import { verifyCsr, type CertificateRequest } from "./csr.ts";
import { generateKey, keyAlgorithm, loadPrivateKey, privateKeyPem, publicKeyFromSpki, spkiDer, type KeyAlgorithm } from "./keys.ts";
import { isIP } from "../ip/ip.ts";
import { buildCertificate, certificatePem, loadCertificate, type AltNames, type Certificate, type ExtKeyUsage } from "./x509.ts";

const HOUR = 3600_000;
export const LIFETIME = {
  ca: 87600 * HOUR, // 10 years (365-day years), as Talos
  admin: 8760 * HOUR, // 1 year
  node: 24 * HOUR, // renewed about every 12 h by the node
} as const;

/**
 * notBefore is set this far in the past. A node that just booted may run with a clock behind
 * the issuer's until time sync converges; a certificate "not yet valid" on that node would break
 * the very API calls needed to fix it. Ten minutes covers usual RTC drift without meaningfully
 * extending a certificate's life.
 */
export const NOT_BEFORE_SKEW = 10 * 60_000;

/** The organisation of the cluster CA's subject. */
export const CA_ORGANIZATION = "bunker";
export const ADMIN_ROLE = "os:admin";

/** A certificate with its private key. */
export interface CertAndKey {
  certificate: Certificate;
  key: KeyObject;
}

/** The PEM texts of a pair, as the secrets bundle and configs carry them (before base64). */
export interface PemPair {
  crt: string;
  key: string;
}

export function toPemPair(ck: CertAndKey): PemPair {
  return { crt: certificatePem(ck.certificate), key: privateKeyPem(ck.key) };
}

/** Reads a PEM pair and checks the key is the one the certificate certifies. */
export function fromPemPair(p: PemPair, what = "certificate pair"): CertAndKey {
  const certificate = loadCertificate(p.crt, `${what} crt`);
  const key = loadPrivateKey(p.key, `${what} key`);
  if (Buffer.compare(spkiDer(key), certificate.publicKey.spki) !== 0) throw new Error(`${what}: the key does not belong to the certificate`);
  return { certificate, key };
}

/** Splits "10.5.0.2", "fd00::2", "node1.example.com" into IP and DNS SANs (deduplicated). */
export function splitSans(list: readonly string[]): AltNames {
  const ips = new Set<string>();
  const dns = new Set<string>();
  for (const raw of list) {
    const s = raw.trim().replace(/^\[(.*)\]$/, "$1");
    if (s === "") continue;
    (isIP(s) ? ips : dns).add(s);
  }
  return { dns: [...dns], ips: [...ips] };
}

function validity(now: Date, lifetime: number): { notBefore: Date; notAfter: Date } {
  if (!(lifetime > 0)) throw new Error(`certificate lifetime must be positive, got ${lifetime} ms`);
  return { notBefore: new Date(now.getTime() - NOT_BEFORE_SKEW), notAfter: new Date(now.getTime() + lifetime) };
}

export interface CaOptions {
  commonName?: string;
  organization?: string;
  algorithm?: KeyAlgorithm;
  lifetime?: number;
  now?: Date;
}

/** A self-signed CA. pathLen 0: Bunker CAs sign leaves only, never intermediate CAs. */
export function newCA(o: CaOptions = {}): CertAndKey {
  const key = generateKey(o.algorithm ?? "ed25519");
  const org = o.organization ?? CA_ORGANIZATION;
  const certificate = buildCertificate({
    subject: { commonName: o.commonName ?? org, organizations: [org] },
    publicKey: key,
    ...validity(o.now ?? new Date(), o.lifetime ?? LIFETIME.ca),
    extensions: { basicConstraints: { ca: true, pathLen: 0 }, keyUsage: ["digitalSignature", "keyCertSign", "cRLSign"] },
    selfKey: key,
  });
  return { certificate, key };
}

/** The cluster CA: Ed25519, 10 years, O=bunker. It signs API client and node certificates. */
export const newClusterCA = (now?: Date): CertAndKey => newCA({ commonName: "bunker", organization: CA_ORGANIZATION, algorithm: "ed25519", ...(now ? { now } : {}) });

/** The etcd CA: ECDSA P-256, 10 years, O=etcd. Separate, so an API certificate never opens etcd. */
export const newEtcdCA = (now?: Date): CertAndKey => newCA({ commonName: "etcd", organization: "etcd", algorithm: "ecdsa-p256", ...(now ? { now } : {}) });

export interface LeafOptions {
  commonName: string;
  /** Subject O values: the roles an API client certificate carries. */
  roles?: string[];
  /** "10.5.0.2", "node1.example.com": IPs and DNS names, sorted out here. */
  sans?: string[];
  lifetime: number;
  usage: ExtKeyUsage[];
  /** The key to certify; a new one of the CA's algorithm when absent. */
  key?: KeyObject;
  now?: Date;
}

/** An end-entity certificate signed by `ca`; `key` is returned only when it was generated here. */
export function issueLeaf(ca: CertAndKey, o: LeafOptions): CertAndKey {
  const key = o.key ?? generateKey(keyAlgorithm(ca.key));
  const alt = splitSans(o.sans ?? []);
  const certificate = buildCertificate({
    subject: { commonName: o.commonName, organizations: o.roles ?? [] },
    publicKey: key,
    ...validity(o.now ?? new Date(), o.lifetime),
    extensions: {
      basicConstraints: { ca: false },
      // ECDSA keys may take part in a TLS 1.2 ECDH key agreement; Ed25519 only signs.
      keyUsage: keyAlgorithm(key) === "ecdsa-p256" ? ["digitalSignature", "keyEncipherment"] : ["digitalSignature"],
      extKeyUsage: o.usage,
      altNames: alt,
    },
    issuer: ca,
  });
  return { certificate, key };
}

/** A client certificate for the API, with the given roles (Subject O) and lifetime. */
export function issueClientCert(ca: CertAndKey, o: { commonName: string; roles: string[]; lifetime: number; key?: KeyObject; now?: Date }): CertAndKey {
  return issueLeaf(ca, { ...o, usage: ["clientAuth"] });
}

/** The operator's admin certificate: 1 year, O=os:admin, clientAuth. */
export function issueAdminCert(ca: CertAndKey, now?: Date): CertAndKey {
  return issueClientCert(ca, { commonName: "admin", roles: [ADMIN_ROLE], lifetime: LIFETIME.admin, ...(now ? { now } : {}) });
}

/** A node's API server certificate: 24 h, serverAuth, SANs from config certSANs and its addresses. */
export function issueNodeServerCert(ca: CertAndKey, o: { hostname: string; sans: string[]; key?: KeyObject; now?: Date }): CertAndKey {
  return issueLeaf(ca, { commonName: o.hostname, sans: [o.hostname, ...o.sans], lifetime: LIFETIME.node, usage: ["serverAuth"], ...pick(o) });
}

/** A node's client certificate (apid talking to other nodes): 24 h, clientAuth, no roles. */
export function issueNodeClientCert(ca: CertAndKey, o: { hostname: string; key?: KeyObject; now?: Date }): CertAndKey {
  return issueLeaf(ca, { commonName: o.hostname, lifetime: LIFETIME.node, usage: ["clientAuth"], ...pick(o) });
}

/** An etcd peer or server certificate: both serverAuth and clientAuth, as etcd members dial each other. */
export function issueEtcdCert(etcdCa: CertAndKey, o: { hostname: string; sans: string[]; lifetime?: number; key?: KeyObject; now?: Date }): CertAndKey {
  return issueLeaf(etcdCa, { commonName: o.hostname, sans: [o.hostname, ...o.sans], lifetime: o.lifetime ?? LIFETIME.node, usage: ["serverAuth", "clientAuth"], ...pick(o) });
}

function pick(o: { key?: KeyObject; now?: Date }): { key?: KeyObject; now?: Date } {
  return { ...(o.key ? { key: o.key } : {}), ...(o.now ? { now: o.now } : {}) };
}

/**
 * Signs a joining node's request. The request's own signature must be good. Its subject O is
 * dropped: roles are granted by who holds the CA, never by what a requester asks for. Its SANs and
 * CN are kept; usage and lifetime come from the signer.
 */
export function signCsr(ca: CertAndKey, csr: CertificateRequest, o: { usage: ExtKeyUsage[]; lifetime: number; now?: Date }): Certificate {
  if (!verifyCsr(csr)) throw new Error("certificate request: its signature does not match its public key");
  const cn = csr.subject.commonName;
  if (!cn) throw new Error("certificate request: the subject has no CN");
  const pub = publicKeyFromSpki(csr.publicKey.spki);
  const sans = [...csr.extensions.altNames.dns, ...csr.extensions.altNames.ips];
  return issueLeaf(ca, { commonName: cn, roles: [], sans, lifetime: o.lifetime, usage: o.usage, key: pub, ...(o.now ? { now: o.now } : {}) }).certificate;
}

/**
 * Whether a certificate should be replaced now: once half its life has passed (a 24 h node
 * certificate renews after about 12 h), so a failed attempt leaves hours to retry before expiry.
 */
export function needsRenewal(c: Certificate, now = new Date()): boolean {
  const half = c.notBefore.getTime() + (c.notAfter.getTime() - c.notBefore.getTime()) / 2;
  return now.getTime() >= half;
}
