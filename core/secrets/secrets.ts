/**
 * The secrets bundle (secrets.yaml): everything a cluster's configs are derived from. Keep it
 * safe: it holds both CA keys. `gen config --with-secrets` regenerates configs from it.
 *
 *   cluster: {id, secret}            32 random bytes each, base64
 *   trustdinfo: {token}              join token, "abcdef.0123456789abcdef"
 *   certs: {os: {crt, key}, etcd: {crt, key}}   base64 of PEM
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { Document } from "yaml";
import { fromPemPair, newClusterCA, newEtcdCA, toPemPair, type CertAndKey } from "../pki/issue.ts";
import { keyAlgorithm } from "../pki/keys.ts";
import { writeFileAtomic } from "../fileio/atomic.ts";
import { YamlReader, type Path } from "../yamlfile/yamlfile.ts";

export interface Secrets {
  cluster: { id: Uint8Array; secret: Uint8Array };
  token: string;
  /** The cluster CA (Ed25519): signs API clients and nodes. */
  os: CertAndKey;
  /** The etcd CA (ECDSA P-256). */
  etcd: CertAndKey;
}

export const TOKEN_PATTERN = /^[a-z0-9]{6}\.[a-z0-9]{16}$/;

/** A join token "xxxxxx.yyyyyyyyyyyyyyyy" over [a-z0-9], uniform (rejection sampling). */
export function generateToken(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  let out = "";
  while (out.length < 22) {
    for (const b of randomBytes(32)) {
      if (b < 252 && out.length < 22) out += alphabet[b % 36]; // 252 = 7 * 36: no bias
    }
  }
  return `${out.slice(0, 6)}.${out.slice(6)}`;
}

export function generateSecrets(now?: Date): Secrets {
  return {
    cluster: { id: new Uint8Array(randomBytes(32)), secret: new Uint8Array(randomBytes(32)) },
    token: generateToken(),
    os: newClusterCA(now),
    etcd: newEtcdCA(now),
  };
}

/** PEM text as the files carry it: base64 of the PEM, one line. */
export const b64 = (text: string | Uint8Array): string => Buffer.from(text).toString("base64");

export function secretsToYaml(s: Secrets): string {
  const os = toPemPair(s.os);
  const etcd = toPemPair(s.etcd);
  const doc = new Document({
    cluster: { id: b64(s.cluster.id), secret: b64(s.cluster.secret) },
    trustdinfo: { token: s.token },
    certs: { os: { crt: b64(os.crt), key: b64(os.key) }, etcd: { crt: b64(etcd.crt), key: b64(etcd.key) } },
  });
  doc.commentBefore =
    " Bunker secrets bundle: the CA keys and cluster secrets every config of this cluster derives from.\n" +
    " Keep it private and backed up; `bunkerctl gen config --with-secrets secrets.yaml` regenerates the configs.";
  comment(doc, ["cluster"], " Cluster identity and shared secret: 32 random bytes each, base64.");
  comment(doc, ["trustdinfo"], " Token joining nodes present to trustd to get their certificates.");
  comment(doc, ["certs", "os"], " Cluster CA (Ed25519, 10 years): signs API client and node certificates. Base64 of PEM.");
  comment(doc, ["certs", "etcd"], " etcd CA (ECDSA P-256, 10 years). Base64 of PEM.");
  return doc.toString({ lineWidth: 0 });
}

/** Puts a comment line above the node at path (if the node exists). */
export function comment(doc: Document, path: Path, text: string): void {
  type Pair = { key: { value?: unknown; commentBefore?: string } };
  const parent = doc.getIn(path.slice(0, -1), true) as { items?: Pair[] } | undefined;
  const pair = parent?.items?.find((p) => p.key.value === path[path.length - 1]);
  if (pair) pair.key.commentBefore = text;
}

/** Reads a PEM pair stored as base64 fields under path, recording problems on the reader. */
export function readPemPair(r: YamlReader, path: Path, what: string, needKey = true): { crt?: string; key?: string; pair?: CertAndKey } {
  if (!r.map(path, ["crt", "key"])) return {};
  const crt = r.base64([...path, "crt"]);
  const key = needKey ? r.base64([...path, "key"]) : r.base64([...path, "key"], { required: false });
  if (!crt) return {};
  const crtText = Buffer.from(crt).toString("utf8");
  if (!key) return { crt: crtText };
  const keyText = Buffer.from(key).toString("utf8");
  const pair = r.check(path, () => fromPemPair({ crt: crtText, key: keyText }, what));
  return { crt: crtText, key: keyText, ...(pair ? { pair } : {}) };
}

/** Parses a bundle, listing every problem with its path and line:column. */
export function parseSecrets(text: string, source = "secrets.yaml", now = new Date()): Secrets {
  const r = new YamlReader(text, source);
  r.done();
  r.map([], ["cluster", "trustdinfo", "certs"]);
  r.map(["cluster"], ["id", "secret"]);
  const id = r.base64(["cluster", "id"], { bytes: 32 });
  const secret = r.base64(["cluster", "secret"], { bytes: 32 });
  r.map(["trustdinfo"], ["token"]);
  const token = r.string(["trustdinfo", "token"], { pattern: TOKEN_PATTERN, expected: 'a token like "abcdef.0123456789abcdef" ([a-z0-9]{6}.[a-z0-9]{16})' });
  r.map(["certs"], ["os", "etcd"]);
  const os = readPemPair(r, ["certs", "os"], "cluster CA").pair;
  const etcd = readPemPair(r, ["certs", "etcd"], "etcd CA").pair;
  for (const [ca, path, alg] of [[os, "os", "ed25519"], [etcd, "etcd", "ecdsa-p256"]] as const) {
    if (!ca) continue;
    if (!ca.certificate.extensions.basicConstraints?.ca) r.fail(["certs", path, "crt"], "not a CA certificate (basicConstraints CA:FALSE)");
    if (keyAlgorithm(ca.key) !== alg) r.fail(["certs", path, "key"], `expected an ${alg} key, found ${keyAlgorithm(ca.key)}`);
    // Configs made from an expired CA would carry certificates no peer accepts.
    if (ca.certificate.notAfter < now) r.fail(["certs", path, "crt"], `the CA expired at ${ca.certificate.notAfter.toISOString()}; rotate it`);
  }
  r.done();
  return { cluster: { id: id!, secret: secret! }, token: token!, os: os!, etcd: etcd! };
}

export function loadSecrets(path: string): Secrets {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new Error(`cannot read secrets bundle ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseSecrets(text, path);
}

/** Writes the bundle 0600, atomically; refuses to replace a file unless `overwrite`. */
export function saveSecrets(path: string, s: Secrets, o: { overwrite?: boolean } = {}): void {
  writeFileAtomic(path, secretsToYaml(s), { mode: 0o600, overwrite: o.overwrite ?? false });
}
