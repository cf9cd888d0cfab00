/**
 * Key pairs and the algorithm identifiers that go with them. Two kinds only: Ed25519 (the
 * cluster CA and everything the API uses) and ECDSA P-256 (etcd, whose peers expect it). The
 * arithmetic is node:crypto's; the encodings of algorithm identifiers and the reading of a
 * SubjectPublicKeyInfo are ours, so a certificate says exactly what we wrote.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";
import { oid, parse, readBits, readOid, seq, seqOf, type Node } from "./der.ts";
import { toPem } from "./pem.ts";

export type KeyAlgorithm = "ed25519" | "ecdsa-p256";

export const OID = {
  ed25519: "1.3.101.112",
  ecPublicKey: "1.2.840.10045.2.1",
  prime256v1: "1.2.840.10045.3.1.7",
  ecdsaWithSHA256: "1.2.840.10045.4.3.2",
} as const;

export function generateKey(alg: KeyAlgorithm): KeyObject {
  if (alg === "ed25519") return generateKeyPairSync("ed25519").privateKey;
  return generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
}

/** Which of our two algorithms a key uses; anything else is refused by name. */
export function keyAlgorithm(key: KeyObject): KeyAlgorithm {
  if (key.asymmetricKeyType === "ed25519") return "ed25519";
  if (key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1") return "ecdsa-p256";
  const detail = key.asymmetricKeyDetails?.namedCurve ? ` (${key.asymmetricKeyDetails.namedCurve})` : "";
  throw new Error(`unsupported key type ${key.asymmetricKeyType}${detail}: Bunker uses Ed25519 or ECDSA P-256`);
}

/** The private key as PKCS#8 PEM ("PRIVATE KEY"), the form openssl and node:tls read. */
export function privateKeyPem(key: KeyObject): string {
  return key.export({ type: "pkcs8", format: "pem" }).toString();
}

/** Reads a PKCS#8 (or SEC1 "EC PRIVATE KEY") PEM and checks it is one of ours. */
export function loadPrivateKey(pem: string, what = "private key"): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (e) {
    throw new Error(`${what}: not a readable private key PEM (${(e as Error).message})`);
  }
  try {
    keyAlgorithm(key);
  } catch (e) {
    throw new Error(`${what}: ${(e as Error).message}`);
  }
  return key;
}

export function publicKeyOf(key: KeyObject): KeyObject {
  return key.type === "private" ? createPublicKey(key) : key;
}

/** SubjectPublicKeyInfo DER of a public (or private) key. */
export function spkiDer(key: KeyObject): Uint8Array {
  return new Uint8Array(publicKeyOf(key).export({ type: "spki", format: "der" }));
}

export function publicKeyPem(key: KeyObject): string {
  return toPem("PUBLIC KEY", spkiDer(key));
}

/** The AlgorithmIdentifier of signatures made by this key (no parameters for either, RFC 8410/5758). */
export function signatureAlgorithmDer(alg: KeyAlgorithm): Uint8Array {
  return alg === "ed25519" ? seq(oid(OID.ed25519)) : seq(oid(OID.ecdsaWithSHA256));
}

/** Signs the bytes as X.509 expects: PureEd25519, or ECDSA-SHA256 with a DER (r, s) signature. */
export function signBytes(key: KeyObject, data: Uint8Array): Uint8Array {
  const alg = keyAlgorithm(key);
  return new Uint8Array(sign(alg === "ed25519" ? null : "sha256", data, key));
}

export type SignatureAlgorithm = "ed25519" | "ecdsa-sha256";

/** Reads an AlgorithmIdentifier of a signature; unknown ones come back as their OID. */
export function readSignatureAlgorithm(n: Node | undefined, what: string): SignatureAlgorithm | string {
  const parts = seqOf(n, what);
  const o = readOid(parts[0], `${what} OID`);
  if (o === OID.ed25519) return "ed25519";
  if (o === OID.ecdsaWithSHA256) return "ecdsa-sha256";
  return o;
}

export function verifyBytes(publicKey: KeyObject, alg: SignatureAlgorithm | string, data: Uint8Array, signature: Uint8Array): boolean {
  const kalg = keyAlgorithm(publicKey);
  if (alg === "ed25519" && kalg === "ed25519") return verify(null, data, publicKey, signature);
  if (alg === "ecdsa-sha256" && kalg === "ecdsa-p256") return verify("sha256", data, publicKey, signature);
  return false;
}

export interface PublicKeyInfo {
  /** "ed25519", "ecdsa-p256", or the algorithm OID (with the curve OID) for others. */
  algorithm: KeyAlgorithm | string;
  /** The subjectPublicKey bits (the raw key: 32 bytes Ed25519, 65 bytes uncompressed P-256). */
  raw: Uint8Array;
  /** The whole SubjectPublicKeyInfo DER. */
  spki: Uint8Array;
}

/** Reads a SubjectPublicKeyInfo with our DER reader. */
export function readSpki(n: Node | undefined, what = "subjectPublicKeyInfo"): PublicKeyInfo {
  const [algId, keyBits] = seqOf(n, what);
  const algParts = seqOf(algId, `${what} algorithm`);
  const algOid = readOid(algParts[0], `${what} algorithm OID`);
  const raw = readBits(keyBits, `${what} key`).bytes;
  let algorithm: string = algOid;
  if (algOid === OID.ed25519) algorithm = "ed25519";
  else if (algOid === OID.ecPublicKey) {
    const curve = readOid(algParts[1], `${what} curve`);
    algorithm = curve === OID.prime256v1 ? "ecdsa-p256" : `${algOid}/${curve}`;
  }
  return { algorithm, raw, spki: n!.raw };
}

export function parseSpki(der: Uint8Array): PublicKeyInfo {
  return readSpki(parse(der));
}

/** A node:crypto public key from SPKI DER. */
export function publicKeyFromSpki(spki: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
}
