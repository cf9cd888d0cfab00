/**
 * The PEM values of a config (base64 of the PEM text): decoded and parsed with node:crypto, so a
 * config with a damaged certificate or a key of another certificate is refused before it is used.
 */
import { X509Certificate, createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const BASE64 = /^[A-Za-z0-9+/\s]+={0,2}\s*$/;

/** base64 text -> the PEM text inside, or why not. */
export function decodeBase64Pem(b64: string, label: "CERTIFICATE" | "PRIVATE KEY"): Parsed<string> {
  if (b64.startsWith("-----BEGIN")) return { ok: false, error: "expected base64 of the PEM text, found raw PEM (encode it with base64 -w0)" };
  if (!BASE64.test(b64)) return { ok: false, error: "expected base64 of a PEM block, found text that is not base64" };
  const pem = Buffer.from(b64, "base64").toString("latin1");
  const want = label === "CERTIFICATE" ? /-----BEGIN CERTIFICATE-----/ : /-----BEGIN ([A-Z0-9 ]+ )?PRIVATE KEY-----/;
  if (!want.test(pem)) {
    const found = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(pem)?.[1];
    return { ok: false, error: `expected base64 of a PEM ${label === "CERTIFICATE" ? "certificate" : "private key"}, found ${found ? `a PEM "${found}" block` : "no PEM block"}` };
  }
  return { ok: true, value: pem };
}

export function parseCertificate(b64: string): Parsed<X509Certificate> {
  const pem = decodeBase64Pem(b64, "CERTIFICATE");
  if (!pem.ok) return pem;
  try {
    return { ok: true, value: new X509Certificate(pem.value) };
  } catch (e) {
    return { ok: false, error: `the certificate does not parse: ${(e as Error).message}` };
  }
}

export function parsePrivateKey(b64: string): Parsed<KeyObject> {
  const pem = decodeBase64Pem(b64, "PRIVATE KEY");
  if (!pem.ok) return pem;
  try {
    return { ok: true, value: createPrivateKey(pem.value) };
  } catch (e) {
    return { ok: false, error: `the private key does not parse: ${(e as Error).message}` };
  }
}

/** Whether the private key is the one whose public half the certificate carries. */
export function keyMatchesCertificate(cert: X509Certificate, key: KeyObject): boolean {
  const a = cert.publicKey.export({ type: "spki", format: "der" });
  const b = createPublicKey(key).export({ type: "spki", format: "der" });
  return Buffer.compare(a, b) === 0;
}

/** "Ed25519", "ECDSA P-256", "RSA 2048", ... for messages. */
export function describeKey(key: KeyObject): string {
  const d = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case "ed25519": return "Ed25519";
    case "ec": return `ECDSA ${d.namedCurve === "prime256v1" ? "P-256" : d.namedCurve ?? ""}`.trim();
    case "rsa": return `RSA ${d.modulusLength ?? ""}`.trim();
    default: return String(key.asymmetricKeyType);
  }
}
