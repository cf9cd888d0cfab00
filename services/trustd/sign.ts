/**
 * What trustd signs, and only that: a node certificate for the requester. The request proves
 * possession of its key (its signature); everything else it asks for is a wish the signer trims:
 * - Subject O (roles) is dropped: a node certificate grants no API role, never os:admin and never
 *   os:impersonator (control planes relay with their own certificates, made from the CA key);
 * - never a CA (basicConstraints CA:false), always serverAuth + clientAuth, 24 h;
 * - SANs: the address the request came from, plus the IPs and DNS names the request lists, except
 *   names the signing control plane itself answers to (its hostname, certSANs, addresses, the
 *   cluster endpoint, loopback, localhost): a worker may name its own addresses (which the control
 *   plane cannot see) but can never pass itself off as a control plane or the endpoint. The
 *   peer address is always granted, even when reserved (container mode: everything is 127.0.0.1).
 * Wildcards, unspecified and multicast addresses, and bad names are refused outright (a clear
 * error beats a certificate that silently lacks a name the node expects).
 */
import { loadCsr, parseCsr, verifyCsr, type CertificateRequest } from "../../core/pki/csr.ts";
import { issueLeaf, LIFETIME, type CertAndKey } from "../../core/pki/issue.ts";
import { keyAlgorithm, publicKeyFromSpki } from "../../core/pki/keys.ts";
import { formatIP, isIP, parseIP } from "../../core/ip/ip.ts";
import type { Certificate } from "../../core/pki/x509.ts";

/** A request larger than this is no node's CSR. */
export const MAX_CSR_BYTES = 16 * 1024;
/** More names than this is no node's either. */
export const MAX_SANS = 32;

/** The request is at fault (INVALID_ARGUMENT): the message says what and where. */
export class RequestError extends Error {}

const DNS_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** One spelling per name: IPs canonical (IPv4-mapped IPv6 as IPv4), names lower case without a trailing dot. */
export function canonicalName(s: string): string {
  const t = s.trim().replace(/^\[(.*)\]$/, "$1");
  const ip = parseIP(t);
  if (ip) {
    const b = ip.bytes;
    // ::ffff:a.b.c.d is an IPv4 peer seen through a dual-stack socket.
    if (b.length === 16 && b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) return formatIP(b.slice(12));
    return formatIP(b);
  }
  return t.toLowerCase().replace(/\.$/, "");
}

/** Decodes a request sent as PEM or DER; size, syntax and signature checked. */
export function decodeCsr(bytes: Uint8Array): CertificateRequest {
  if (bytes.length === 0) throw new RequestError("csr: empty");
  if (bytes.length > MAX_CSR_BYTES) throw new RequestError(`csr: ${bytes.length} bytes, more than ${MAX_CSR_BYTES}`);
  let csr: CertificateRequest;
  try {
    const text = Buffer.from(bytes).toString("latin1");
    csr = text.includes("-----BEGIN") ? loadCsr(text, "csr") : parseCsr(bytes);
  } catch (e) {
    throw new RequestError(`csr: not a PKCS#10 request in PEM or DER: ${(e as Error).message}`);
  }
  if (!verifyCsr(csr)) throw new RequestError("csr: its signature does not match its public key (or the algorithm is not Ed25519 or ECDSA P-256)");
  return csr;
}

export interface SignPolicy {
  /** Names the signing control plane answers to; granted only as the peer's own address. */
  reserved: readonly string[];
  lifetimeMs?: number;
  now?: Date;
}

export interface Signed {
  certificate: Certificate;
  commonName: string;
  /** The SANs in the certificate. */
  sans: string[];
  /** Names asked for and left out, with why (reserved names). */
  dropped: string[];
}

/** Signs `csr`, received from `peer` (its IP address), as a node certificate under the policy above. */
export function signNodeRequest(ca: CertAndKey, csr: CertificateRequest, peer: string, policy: SignPolicy): Signed {
  const pub = publicKeyFromSpki(csr.publicKey.spki);
  keyAlgorithm(pub); // throws for a key type Bunker does not issue for
  const cn = canonicalName(csr.subject.commonName ?? "");
  if (!DNS_NAME.test(cn)) throw new RequestError(`csr subject CN ${JSON.stringify((csr.subject.commonName ?? "").slice(0, 80))}: expected the node's hostname (RFC 1123)`);
  const reserved = new Set([...policy.reserved, "localhost"].map(canonicalName));
  const peerName = canonicalName(peer);
  const asked = [cn, ...csr.extensions.altNames.dns, ...csr.extensions.altNames.ips];
  if (asked.length > MAX_SANS) throw new RequestError(`csr asks for ${asked.length} names, more than ${MAX_SANS}`);
  const sans = new Set<string>([peerName]);
  const dropped: string[] = [];
  for (const raw of asked) {
    const name = canonicalName(raw);
    if (isIP(name)) {
      if (isUnspecifiedOrMulticast(name)) throw new RequestError(`csr SAN ${name}: an unspecified or multicast address names no node`);
      if (isLoopback(name) && name !== peerName) { dropped.push(name); continue; }
    } else if (!DNS_NAME.test(name)) {
      throw new RequestError(`csr SAN ${JSON.stringify(raw.slice(0, 80))}: not an IP address or an RFC 1123 DNS name (wildcards are not signed)`);
    }
    if (reserved.has(name) && name !== peerName) { dropped.push(name); continue; }
    sans.add(name);
  }
  const list = [...sans];
  const certificate = issueLeaf(ca, {
    commonName: cn, roles: [], sans: list, lifetime: policy.lifetimeMs ?? LIFETIME.node,
    usage: ["serverAuth", "clientAuth"], key: pub, ...(policy.now ? { now: policy.now } : {}),
  }).certificate;
  return { certificate, commonName: cn, sans: list, dropped };
}

function isLoopback(ip: string): boolean {
  return ip === "::1" || ip.startsWith("127.");
}

function isUnspecifiedOrMulticast(ip: string): boolean {
  if (ip === "0.0.0.0" || ip === "::" || ip === "255.255.255.255") return true;
  const parsed = parseIP(ip);
  if (parsed?.family === 4) { const first = parsed.bytes[0]!; return first >= 224 && first <= 239; }
  return /^ff/i.test(ip);
}
