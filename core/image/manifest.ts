/**
 * The signed manifest of an image: the name, size and SHA-256 of every artifact, signed with
 * Ed25519. `manifest.json` holds the exact bytes that are signed; `manifest.sig` holds the
 * signature in base64. The same format describes the root filesystem inside the initramfs, which
 * init checks before it mounts the SquashFS.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";
import { closeSync, openSync, readSync, statSync } from "node:fs";

export const MANIFEST_FORMAT = "bunker-manifest/1";

export interface Artifact {
  name: string;
  size: number;
  sha256: string;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  /** What the manifest describes, e.g. "image" or "rootfs". */
  kind: string;
  /** Free-form build identity (version, commit). */
  build: Record<string, string>;
  /**
   * Anti-rollback: an integer the builder raises for a release that fixes a vulnerability. A
   * node keeps the highest it has confirmed booting as a floor in META and refuses images below
   * it (docs/image.md). Signed with the rest; absent in manifests made before it existed: 0.
   */
  securityVersion?: number;
  /** The Ed25519 public key that signed it, raw 32 bytes in base64 (informative: pin it to trust it). */
  publicKey: string;
  artifacts: Artifact[];
  /**
   * Root manifests only: files of the initramfs (the binary, its loader and libraries) that init
   * bind-mounts onto empty placeholders of the same path in the SquashFS, so they are stored once.
   */
  binds?: string[];
}

/** SHA-256 of a file, read in 4 MiB chunks (the Bun binary is over 100 MB). */
export function sha256File(path: string): string {
  const h = createHash("sha256");
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.allocUnsafe(4 << 20);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest("hex");
}

/** Describes one file as an artifact. */
export function describeFile(name: string, path: string): Artifact {
  return { name, size: statSync(path).size, sha256: sha256File(path) };
}

// DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw 32-byte key follows it.
const SPKI_ED25519 = Buffer.from("302a300506032b6570032100", "hex");

export function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  if (raw.byteLength !== 32) throw new Error(`manifest: an Ed25519 public key has 32 bytes, got ${raw.byteLength}`);
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519, raw]), format: "der", type: "spki" });
}

export function rawPublicKey(key: KeyObject): Buffer {
  const der = key.export({ format: "der", type: "spki" });
  return Buffer.from(der.subarray(der.length - 32));
}

/** Reads a public key given as PEM (SPKI) or as the raw 32 bytes in base64. */
export function parsePublicKey(text: string): KeyObject {
  const t = text.trim();
  if (t.startsWith("-----BEGIN")) return createPublicKey(t);
  return publicKeyFromRaw(Buffer.from(t, "base64"));
}

/** A new Ed25519 private key as PKCS#8 PEM. */
export function generateSigningKey(): string {
  return generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }).toString();
}

export function loadSigningKey(pem: string): { privateKey: KeyObject; publicKey: KeyObject } {
  const privateKey = createPrivateKey(pem);
  if (privateKey.asymmetricKeyType !== "ed25519") throw new Error(`manifest: signing key is ${privateKey.asymmetricKeyType}, expected ed25519`);
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

/** The largest security version (kept far below 2^53 so it survives JSON and META as text). */
export const SECURITY_VERSION_MAX = 2 ** 31 - 1;

/** Whether `v` is a valid security version: an integer 0..SECURITY_VERSION_MAX. */
export function isSecurityVersion(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= SECURITY_VERSION_MAX;
}

/** A manifest's security version; 0 for one made before the field existed. */
export function securityVersionOf(m: Pick<Manifest, "securityVersion">): number {
  return m.securityVersion ?? 0;
}

export interface SignOptions {
  /** Root manifests: see Manifest.binds. */
  binds?: string[];
  /** See Manifest.securityVersion (default 0). */
  securityVersion?: number;
}

/** Serialises and signs a manifest: returns the bytes of manifest.json and of manifest.sig. */
export function signManifest(kind: string, build: Record<string, string>, artifacts: Artifact[], keyPem: string, o: SignOptions = {}): { json: string; sig: string } {
  const { binds, securityVersion = 0 } = o;
  if (!isSecurityVersion(securityVersion)) throw new Error(`manifest: security version must be an integer from 0 to ${SECURITY_VERSION_MAX}, got ${securityVersion}`);
  const { privateKey, publicKey } = loadSigningKey(keyPem);
  const names = new Set<string>();
  for (const a of artifacts) {
    if (names.has(a.name)) throw new Error(`manifest: artifact '${a.name}' listed twice`);
    names.add(a.name);
  }
  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    kind,
    build,
    securityVersion,
    publicKey: rawPublicKey(publicKey).toString("base64"),
    artifacts: [...artifacts].sort((a, b) => (a.name < b.name ? -1 : 1)),
    ...(binds ? { binds: [...binds].sort() } : {}),
  };
  const json = JSON.stringify(manifest, null, 2) + "\n";
  const sig = sign(null, Buffer.from(json), privateKey).toString("base64") + "\n";
  return { json, sig };
}

/**
 * Checks the signature of manifest bytes and parses them. `trusted` is the key to check against;
 * without it the key the manifest names is used, which proves integrity but not origin.
 * Throws an Error saying what is wrong.
 */
export function openManifest(json: Uint8Array, sig: string, trusted?: KeyObject): Manifest {
  let parsed: Manifest;
  try {
    parsed = JSON.parse(Buffer.from(json).toString("utf8")) as Manifest;
  } catch (e) {
    throw new Error(`manifest: not JSON: ${(e as Error).message}`);
  }
  if (parsed.format !== MANIFEST_FORMAT) throw new Error(`manifest: format is '${parsed.format}', expected '${MANIFEST_FORMAT}'`);
  if (!Array.isArray(parsed.artifacts)) throw new Error("manifest: no artifacts list");
  const key = trusted ?? publicKeyFromRaw(Buffer.from(String(parsed.publicKey), "base64"));
  const sigBytes = Buffer.from(sig.trim(), "base64");
  if (sigBytes.byteLength !== 64) throw new Error(`manifest: signature has ${sigBytes.byteLength} bytes, expected 64`);
  if (!verify(null, json, key, sigBytes)) {
    throw new Error(trusted ? "manifest: signature does not match the trusted public key" : "manifest: signature does not match the manifest's public key");
  }
  if (parsed.securityVersion !== undefined && !isSecurityVersion(parsed.securityVersion)) {
    throw new Error(`manifest: securityVersion is ${JSON.stringify(parsed.securityVersion)}, expected an integer from 0 to ${SECURITY_VERSION_MAX}`);
  }
  return parsed;
}

/** One difference between a manifest and the files on disk. */
export interface Mismatch {
  name: string;
  problem: string;
}

/** Compares every artifact with the file `resolve(name)`; returns the mismatches (empty: all good). */
export function checkArtifacts(manifest: Manifest, resolve: (name: string) => string): Mismatch[] {
  const out: Mismatch[] = [];
  for (const a of manifest.artifacts) {
    const path = resolve(a.name);
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      out.push({ name: a.name, problem: "missing" });
      continue;
    }
    if (size !== a.size) {
      out.push({ name: a.name, problem: `size ${size}, manifest says ${a.size}` });
      continue;
    }
    const got = sha256File(path);
    if (got !== a.sha256) out.push({ name: a.name, problem: `sha256 ${got}, manifest says ${a.sha256}` });
  }
  return out;
}
