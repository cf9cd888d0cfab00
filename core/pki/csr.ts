/**
 * PKCS#10 certificate requests (RFC 2986). A joining node sends one to trustd; the request
 * carries its subject, its public key and the SANs it asks for (extensionRequest attribute),
 * signed by its own key to prove it holds it.
 */
import type { KeyObject } from "node:crypto";
import { bits, children, concat, DerError, implicitConstructed, int, oid, parse, readBits, readInt, readOid, seq, seqOf, set, Tag } from "./der.ts";
import { keyAlgorithm, publicKeyFromSpki, readSignatureAlgorithm, readSpki, signatureAlgorithmDer, signBytes, spkiDer, verifyBytes, type PublicKeyInfo, type SignatureAlgorithm } from "./keys.ts";
import { fromPem, toPem } from "./pem.ts";
import { encodeExtensions, encodeName, readExtensions, readName, type AltNames, type Extensions, type Name, type NameSpec } from "./x509.ts";

const EXTENSION_REQUEST = "1.2.840.113549.1.9.14";

export interface CsrSpec {
  subject: NameSpec;
  key: KeyObject;
  altNames?: Partial<AltNames>;
}

export interface CertificateRequest {
  der: Uint8Array;
  info: Uint8Array;
  subject: Name;
  publicKey: PublicKeyInfo;
  /** The extensions asked for (only SANs matter to a signer that follows its own profile). */
  extensions: Extensions;
  signatureAlgorithm: SignatureAlgorithm | string;
  signature: Uint8Array;
}

export function createCsr(spec: CsrSpec): CertificateRequest {
  const alg = keyAlgorithm(spec.key);
  const ext = spec.altNames ? encodeExtensions({ altNames: spec.altNames }) : undefined;
  const attrs = ext ? [seq(oid(EXTENSION_REQUEST), set(ext))] : [];
  const info = seq(int(0), encodeName(spec.subject), spkiDer(spec.key), implicitConstructed(0, concat(attrs)));
  const sigAlg = signatureAlgorithmDer(alg);
  return parseCsr(seq(info, sigAlg, bits(signBytes(spec.key, info))));
}

export function parseCsr(der: Uint8Array): CertificateRequest {
  const [infoNode, algNode, sigNode] = seqOf(parse(der), "certification request");
  const f = seqOf(infoNode, "certificationRequestInfo");
  const version = readInt(f[0], "CSR version");
  if (version !== 0n) throw new DerError(`CSR version must be 0 (v1), found ${version}`, f[0]!.offset);
  const subject = readName(f[1], "CSR subject");
  const publicKey = readSpki(f[2], "CSR subjectPublicKeyInfo");
  let extensions: Extensions = { extKeyUsage: [], altNames: { dns: [], ips: [] }, present: [] };
  if (f[3]) {
    if (f[3].tag !== 0xa0) throw new DerError(`CSR attributes: expected [0], found tag 0x${f[3].tag.toString(16)}`, f[3].offset);
    for (const attr of children(f[3])) {
      const [t, values] = seqOf(attr, "CSR attribute");
      if (readOid(t, "CSR attribute type") !== EXTENSION_REQUEST) continue;
      const first = seqOf(values, "extensionRequest values", Tag.SET)[0];
      extensions = readExtensions(first, "CSR extensionRequest");
    }
  }
  return {
    der,
    info: infoNode!.raw,
    subject,
    publicKey,
    extensions,
    signatureAlgorithm: readSignatureAlgorithm(algNode, "CSR signatureAlgorithm"),
    signature: readBits(sigNode, "CSR signature").bytes,
  };
}

/** The request is signed by the key it carries (proof of possession). */
export function verifyCsr(csr: CertificateRequest): boolean {
  try {
    return verifyBytes(publicKeyFromSpki(csr.publicKey.spki), csr.signatureAlgorithm, csr.info, csr.signature);
  } catch {
    return false;
  }
}

export const csrPem = (c: CertificateRequest): string => toPem("CERTIFICATE REQUEST", c.der);

export function loadCsr(pem: string, what = "certificate request"): CertificateRequest {
  try {
    return parseCsr(fromPem(pem, "CERTIFICATE REQUEST"));
  } catch (e) {
    throw new Error(`${what}: ${(e as Error).message}`);
  }
}
