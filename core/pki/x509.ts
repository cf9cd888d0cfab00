/**
 * X.509 v3 certificates (RFC 5280), built and read with our own DER code. Only the parts Bunker
 * uses are written (CN and O in names; basicConstraints, keyUsage, extKeyUsage, subjectAltName,
 * subjectKeyIdentifier, authorityKeyIdentifier); the reader also accepts other name attributes
 * and skips unknown non-critical extensions, so it reads certificates openssl makes.
 */
import { createHash, randomBytes, type KeyObject } from "node:crypto";
import {
  bits, bool, DerError, explicit, expectTag, hex, implicitPrimitive, int, namedBits, octets, oid, parse,
  readBits, readBool, readInt, readNamedBits, readOid, readString, readTime, seq, seqOf, set, Tag, time, utf8,
  children, type Node,
} from "./der.ts";
import { keyAlgorithm, publicKeyFromSpki, readSignatureAlgorithm, readSpki, signatureAlgorithmDer, signBytes, spkiDer, verifyBytes, type PublicKeyInfo, type SignatureAlgorithm } from "./keys.ts";
import { fromPem, toPem } from "./pem.ts";
import { formatIP, ipOf } from "../ip/ip.ts";

// ---------------------------------------------------------------------------------------------
// Names

const NAME_OIDS: Record<string, string> = {
  "2.5.4.3": "CN",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "2.5.4.5": "serialNumber",
};

/** A distinguished name as Bunker writes it: one CN and any number of O (roles). */
export interface NameSpec {
  commonName?: string;
  organizations?: string[];
}

export interface Name {
  commonName?: string;
  organizations: string[];
  /** Every attribute in order, short name (or OID) and value. */
  attributes: { type: string; value: string }[];
}

/** O first, then CN, each in its own RDN, as openssl and Talos order them. */
export function encodeName(n: NameSpec): Uint8Array {
  const rdns: Uint8Array[] = [];
  for (const o of n.organizations ?? []) rdns.push(set(seq(oid("2.5.4.10"), utf8(o))));
  if (n.commonName !== undefined) rdns.push(set(seq(oid("2.5.4.3"), utf8(n.commonName))));
  return seq(...rdns);
}

export function readName(n: Node | undefined, what: string): Name {
  const out: Name = { organizations: [], attributes: [] };
  for (const rdn of seqOf(n, what)) {
    for (const atv of seqOf(rdn, `${what} RDN`, Tag.SET)) {
      const [t, v] = seqOf(atv, `${what} attribute`);
      const o = readOid(t, `${what} attribute type`);
      const type = NAME_OIDS[o] ?? o;
      const value = readString(v, `${what} ${type}`);
      out.attributes.push({ type, value });
      if (type === "CN" && out.commonName === undefined) out.commonName = value;
      if (type === "O") out.organizations.push(value);
    }
  }
  return out;
}

/** "O=os:admin, CN=admin" style, for messages and listings. */
export function formatName(n: Name): string {
  return n.attributes.map((a) => `${a.type}=${a.value}`).join(", ");
}

// ---------------------------------------------------------------------------------------------
// Extensions

export const KEY_USAGE_BITS = [
  "digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment", "keyAgreement",
  "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly",
] as const;
export type KeyUsage = (typeof KEY_USAGE_BITS)[number];

export const EKU_OIDS = {
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
  codeSigning: "1.3.6.1.5.5.7.3.3",
  emailProtection: "1.3.6.1.5.5.7.3.4",
  timeStamping: "1.3.6.1.5.5.7.3.8",
  OCSPSigning: "1.3.6.1.5.5.7.3.9",
} as const;
export type ExtKeyUsage = keyof typeof EKU_OIDS;
const EKU_NAMES: Record<string, string> = Object.fromEntries(Object.entries(EKU_OIDS).map(([k, v]) => [v, k]));

const EXT = {
  subjectKeyId: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  authorityKeyId: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
} as const;

export interface AltNames {
  dns: string[];
  ips: string[];
}

/** What the extensions of a certificate (or a request) say. */
export interface ExtensionsSpec {
  /** Present means basicConstraints is written (always critical). */
  basicConstraints?: { ca: boolean; pathLen?: number };
  keyUsage?: KeyUsage[];
  extKeyUsage?: ExtKeyUsage[];
  altNames?: Partial<AltNames>;
  subjectKeyId?: Uint8Array;
  authorityKeyId?: Uint8Array;
}

function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  return critical ? seq(oid(id), bool(true), octets(value)) : seq(oid(id), octets(value));
}

/** SAN entries, DNS first then IPs; throws on a name that cannot be a DNS name or an IP. */
export function encodeAltNames(alt: Partial<AltNames>): Uint8Array {
  const names: Uint8Array[] = [];
  for (const d of alt.dns ?? []) {
    if (!/^(\*\.)?[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/.test(d)) {
      throw new Error(`subjectAltName: ${JSON.stringify(d)} is neither an IP address nor a DNS name`);
    }
    names.push(implicitPrimitive(2, new TextEncoder().encode(d))); // the regex admits ASCII only
  }
  for (const ip of alt.ips ?? []) names.push(implicitPrimitive(7, ipOf(ip).bytes));
  return seq(...names);
}

/** The Extensions SEQUENCE (without the [3] wrapper, which requests do not use). */
export function encodeExtensions(e: ExtensionsSpec): Uint8Array | undefined {
  const list: Uint8Array[] = [];
  if (e.basicConstraints) {
    const bc = e.basicConstraints;
    const body: Uint8Array[] = [];
    if (bc.ca) body.push(bool(true)); // DER omits the DEFAULT FALSE
    if (bc.ca && bc.pathLen !== undefined) body.push(int(bc.pathLen));
    list.push(extension(EXT.basicConstraints, true, seq(...body)));
  }
  if (e.keyUsage?.length) list.push(extension(EXT.keyUsage, true, namedBits(e.keyUsage.map((u) => KEY_USAGE_BITS.indexOf(u)))));
  if (e.extKeyUsage?.length) list.push(extension(EXT.extKeyUsage, false, seq(...e.extKeyUsage.map((u) => oid(EKU_OIDS[u])))));
  const alt = e.altNames;
  if (alt && ((alt.dns?.length ?? 0) + (alt.ips?.length ?? 0)) > 0) list.push(extension(EXT.subjectAltName, false, encodeAltNames(alt)));
  if (e.subjectKeyId) list.push(extension(EXT.subjectKeyId, false, octets(e.subjectKeyId)));
  if (e.authorityKeyId) list.push(extension(EXT.authorityKeyId, false, seq(implicitPrimitive(0, e.authorityKeyId))));
  return list.length ? seq(...list) : undefined;
}

export interface Extensions {
  basicConstraints?: { ca: boolean; pathLen?: number; critical: boolean };
  keyUsage?: KeyUsage[];
  extKeyUsage: string[];
  altNames: AltNames;
  subjectKeyId?: string;
  authorityKeyId?: string;
  /** OIDs of every extension present, in order, with their criticality. */
  present: { oid: string; critical: boolean }[];
}

function readAltNames(value: Uint8Array, out: AltNames, what: string): void {
  for (const gn of children(parse(value))) {
    if (gn.tag === 0x82) out.dns.push(String.fromCharCode(...gn.content));
    else if (gn.tag === 0x87) {
      if (gn.content.length !== 4 && gn.content.length !== 16) throw new DerError(`${what}: an iPAddress holds 4 or 16 bytes, found ${gn.content.length}`, gn.offset);
      out.ips.push(formatIP(gn.content));
    }
    // other GeneralName forms (email, URI, directoryName) are not used by Bunker; skipped
    else if (gn.tag !== 0x81 && gn.tag !== 0x86 && gn.tag !== 0xa4) throw new DerError(`${what}: unsupported GeneralName tag 0x${gn.tag.toString(16)}`, gn.offset);
  }
}

/** Reads an Extensions SEQUENCE; unknown critical extensions are an error, as RFC 5280 requires. */
export function readExtensions(n: Node | undefined, what: string): Extensions {
  const out: Extensions = { extKeyUsage: [], altNames: { dns: [], ips: [] }, present: [] };
  for (const ext of seqOf(n, what)) {
    const parts = seqOf(ext, `${what} extension`);
    const id = readOid(parts[0], `${what} extension OID`);
    const critical = parts.length === 3 ? readBool(parts[1], `${what} ${id} critical`) : false;
    const value = expectTag(parts[parts.length - 1], Tag.OCTET_STRING, `${what} ${id} value`).content;
    if (out.present.some((p) => p.oid === id)) throw new DerError(`${what}: extension ${id} appears twice`, ext.offset);
    out.present.push({ oid: id, critical });
    const w = `${what} ${id}`;
    switch (id) {
      case EXT.basicConstraints: {
        const b = seqOf(parse(value), w);
        let i = 0;
        const ca = b[i]?.tag === Tag.BOOLEAN ? readBool(b[i++], w) : false;
        const pathLen = b[i] ? Number(readInt(b[i], `${w} pathLen`)) : undefined;
        out.basicConstraints = { ca, critical, ...(pathLen !== undefined ? { pathLen } : {}) };
        break;
      }
      case EXT.keyUsage:
        out.keyUsage = readNamedBits(parse(value), w).map((b) => KEY_USAGE_BITS[b] ?? (`bit${b}` as KeyUsage));
        break;
      case EXT.extKeyUsage:
        out.extKeyUsage = seqOf(parse(value), w).map((o) => {
          const s = readOid(o, w);
          return EKU_NAMES[s] ?? s;
        });
        break;
      case EXT.subjectAltName:
        readAltNames(value, out.altNames, w);
        break;
      case EXT.subjectKeyId:
        out.subjectKeyId = hex(expectTag(parse(value), Tag.OCTET_STRING, w).content);
        break;
      case EXT.authorityKeyId: {
        const kid = seqOf(parse(value), w).find((c) => c.tag === 0x80);
        if (kid) out.authorityKeyId = hex(kid.content);
        break;
      }
      default:
        if (critical) throw new DerError(`${what}: unknown critical extension ${id}`, ext.offset);
    }
  }
  return out;
}

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(spki: Uint8Array): Uint8Array {
  const raw = readSpki(parse(spki)).raw;
  return new Uint8Array(createHash("sha1").update(raw).digest());
}

// ---------------------------------------------------------------------------------------------
// Building

export interface CertificateSpec {
  subject: NameSpec;
  /** The public key certified (a private key is accepted; its public half is used). */
  publicKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  extensions: Omit<ExtensionsSpec, "subjectKeyId" | "authorityKeyId">;
  /** The signer; absent means self-signed with `selfKey`. */
  issuer?: { certificate: Certificate; key: KeyObject };
  /** The private key of a self-signed certificate. */
  selfKey?: KeyObject;
  /** Defaults to 16 random bytes, made positive. */
  serial?: bigint;
}

/** 16 random bytes with the top bit clear: positive, unpredictable, within RFC 5280's 20 octets. */
export function randomSerial(): bigint {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f;
  if (b.every((x) => x === 0)) b[15] = 1; // zero is not a valid serial
  return BigInt("0x" + b.toString("hex"));
}

export function buildCertificate(spec: CertificateSpec): Certificate {
  const signer = spec.issuer?.key ?? spec.selfKey;
  if (!signer) throw new Error("buildCertificate: neither issuer nor selfKey given");
  if (spec.notAfter <= spec.notBefore) throw new Error(`buildCertificate: notAfter ${spec.notAfter.toISOString()} is not after notBefore ${spec.notBefore.toISOString()}`);
  const alg = keyAlgorithm(signer);
  const spki = spkiDer(spec.publicKey);
  const ski = keyIdentifier(spki);
  // An issuer without a subjectKeyIdentifier (some foreign CAs) still gets a usable AKI.
  const aki = spec.issuer ? (spec.issuer.certificate.extensions.subjectKeyId ?? hex(keyIdentifier(spec.issuer.certificate.publicKey.spki))) : hex(ski);
  const ext = encodeExtensions({
    ...spec.extensions,
    subjectKeyId: ski,
    ...(aki ? { authorityKeyId: new Uint8Array(Buffer.from(aki, "hex")) } : {}),
  });
  const sigAlg = signatureAlgorithmDer(alg);
  const issuerName = spec.issuer ? spec.issuer.certificate.subjectDer : encodeName(spec.subject);
  const tbs = seq(
    explicit(0, int(2)),
    int(spec.serial ?? randomSerial()),
    sigAlg,
    issuerName,
    seq(time(spec.notBefore), time(spec.notAfter)),
    encodeName(spec.subject),
    spki,
    ...(ext ? [explicit(3, ext)] : []),
  );
  const der = seq(tbs, sigAlg, bits(signBytes(signer, tbs)));
  return parseCertificate(der);
}

// ---------------------------------------------------------------------------------------------
// Reading

export interface Certificate {
  der: Uint8Array;
  /** The signed part, what the signature covers. */
  tbs: Uint8Array;
  version: number;
  /** Serial as lower-case hex, no leading zeros. */
  serial: string;
  signatureAlgorithm: SignatureAlgorithm | string;
  issuer: Name;
  subject: Name;
  issuerDer: Uint8Array;
  /** The encoded subject, reused as the issuer of certificates this one signs. */
  subjectDer: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  publicKey: PublicKeyInfo;
  extensions: Extensions;
  /** The roles the certificate carries: its subject's O values. */
  roles: string[];
  signature: Uint8Array;
}

export function parseCertificate(der: Uint8Array): Certificate {
  const [tbsNode, algNode, sigNode, ...extra] = seqOf(parse(der), "certificate");
  if (extra.length) throw new DerError("certificate: unexpected fields after the signature", extra[0]!.offset);
  const f = seqOf(tbsNode, "tbsCertificate");
  let i = 0;
  let version = 1;
  if (f[0]?.tag === 0xa0) version = Number(readInt(children(f[i++]!)[0], "version")) + 1;
  const serial = readInt(f[i++], "serialNumber");
  const innerAlg = readSignatureAlgorithm(f[i++], "tbsCertificate signature");
  const issuerNode = f[i++];
  const issuer = readName(issuerNode, "issuer");
  const [nb, na] = seqOf(f[i++], "validity");
  const subjectNode = f[i++];
  const subject = readName(subjectNode, "subject");
  const publicKey = readSpki(f[i++]);
  let extensions: Extensions = { extKeyUsage: [], altNames: { dns: [], ips: [] }, present: [] };
  for (; i < f.length; i++) {
    const n = f[i]!;
    if (n.tag === 0xa3) extensions = readExtensions(children(n)[0], "extensions");
    else if (n.tag !== 0x81 && n.tag !== 0x82) throw new DerError(`tbsCertificate: unexpected field tag 0x${n.tag.toString(16)}`, n.offset);
  }
  const signatureAlgorithm = readSignatureAlgorithm(algNode, "signatureAlgorithm");
  if (signatureAlgorithm !== innerAlg) throw new DerError("certificate: the two signature algorithm fields differ", algNode!.offset);
  return {
    der,
    tbs: tbsNode!.raw,
    version,
    serial: serial.toString(16),
    signatureAlgorithm,
    issuer,
    subject,
    issuerDer: issuerNode!.raw,
    subjectDer: subjectNode!.raw,
    notBefore: readTime(nb, "notBefore"),
    notAfter: readTime(na, "notAfter"),
    publicKey,
    extensions,
    roles: subject.organizations,
    signature: readBits(sigNode, "signature").bytes,
  };
}

export const certificatePem = (c: Certificate): string => toPem("CERTIFICATE", c.der);

export function loadCertificate(pem: string, what = "certificate"): Certificate {
  try {
    return parseCertificate(fromPem(pem, "CERTIFICATE"));
  } catch (e) {
    throw new Error(`${what}: ${(e as Error).message}`);
  }
}

/** Whether `issuer`'s key made `cert`'s signature (no name, time or constraint checks). */
export function signatureValid(cert: Certificate, issuer: Certificate): boolean {
  try {
    return verifyBytes(publicKeyFromSpki(issuer.publicKey.spki), cert.signatureAlgorithm, cert.tbs, cert.signature);
  } catch {
    return false; // a key type we do not use (RSA, other curves) cannot have signed for us
  }
}

/**
 * Checks one link from a leaf to the CA that signed it: names chain, the CA is a CA allowed to
 * sign certificates, the signature is the CA's, and both are valid at `at`. Returns the problems
 * found (empty when the certificate is good).
 */
export function checkIssuedBy(cert: Certificate, ca: Certificate, at = new Date()): string[] {
  return [...signingProblems(cert, ca), ...validityProblems(cert, "certificate", at), ...validityProblems(ca, "CA", at)];
}

/** The part of checkIssuedBy that time does not change: names chain, the CA may sign, the signature is its. */
export function signingProblems(cert: Certificate, ca: Certificate): string[] {
  const problems: string[] = [];
  if (Buffer.compare(cert.issuerDer, ca.subjectDer) !== 0) {
    problems.push(`issuer "${formatName(cert.issuer)}" is not the CA's subject "${formatName(ca.subject)}"`);
  }
  if (!ca.extensions.basicConstraints?.ca) problems.push("the issuer is not a CA (basicConstraints)");
  if (ca.extensions.keyUsage && !ca.extensions.keyUsage.includes("keyCertSign")) problems.push("the issuer may not sign certificates (keyUsage)");
  if (!signatureValid(cert, ca)) problems.push("the signature is not the CA's");
  return problems;
}

/** Why `c` (called `name` in the text) is not valid at `at`: empty when it is. */
export function validityProblems(c: Certificate, name: string, at = new Date()): string[] {
  const problems: string[] = [];
  if (at < c.notBefore) problems.push(`the ${name} is not valid before ${c.notBefore.toISOString()}`);
  if (at > c.notAfter) problems.push(`the ${name} expired at ${c.notAfter.toISOString()}`);
  return problems;
}
