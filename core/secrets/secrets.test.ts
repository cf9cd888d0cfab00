import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { FileExistsError } from "../fileio/atomic.ts";
import { toPemPair } from "../pki/issue.ts";
import { YamlFileError } from "../yamlfile/yamlfile.ts";
import { generateSecrets, generateToken, loadSecrets, parseSecrets, saveSecrets, secretsToYaml, TOKEN_PATTERN } from "./secrets.ts";

const dir = mkdtempSync(join(tmpdir(), "bunker-secrets-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const secrets = generateSecrets();

test("tokens have the join-token shape and differ", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const t = generateToken();
    expect(t).toMatch(TOKEN_PATTERN);
    seen.add(t);
  }
  expect(seen.size).toBe(200);
});

test("save (0600) then load gives back the same bundle", () => {
  const p = join(dir, "secrets.yaml");
  saveSecrets(p, secrets);
  expect(statSync(p).mode & 0o777).toBe(0o600);
  const back = loadSecrets(p);
  expect(back.cluster).toEqual(secrets.cluster);
  expect(back.token).toBe(secrets.token);
  expect(toPemPair(back.os)).toEqual(toPemPair(secrets.os));
  expect(toPemPair(back.etcd)).toEqual(toPemPair(secrets.etcd));
  expect(back.os.certificate.publicKey.algorithm).toBe("ed25519");
  expect(back.etcd.certificate.publicKey.algorithm).toBe("ecdsa-p256");
  // the file has the agreed shape: base64 of PEM text
  const raw = parseDocument(readFileSync(p, "utf8")).toJS();
  expect(Object.keys(raw)).toEqual(["cluster", "trustdinfo", "certs"]);
  expect(Buffer.from(raw.certs.os.crt, "base64").toString()).toStartWith("-----BEGIN CERTIFICATE-----\n");
  expect(Buffer.from(raw.certs.etcd.key, "base64").toString()).toStartWith("-----BEGIN PRIVATE KEY-----\n");
});

test("never replaces an existing bundle unless asked", () => {
  const p = join(dir, "keep.yaml");
  writeFileSync(p, "precious");
  expect(() => saveSecrets(p, secrets)).toThrow(FileExistsError);
  expect(readFileSync(p, "utf8")).toBe("precious");
  saveSecrets(p, secrets, { overwrite: true });
  expect(loadSecrets(p).token).toBe(secrets.token);
});

function problems(text: string): string[] {
  try {
    parseSecrets(text, "s.yaml");
  } catch (e) {
    expect(e).toBeInstanceOf(YamlFileError);
    return (e as YamlFileError).problems.map((p) => `${p.path}@${p.line}:${p.col} ${p.message}`);
  }
  throw new Error("expected the bundle to be rejected");
}

test("every problem is listed with its path and line:column", () => {
  const good = secretsToYaml(secrets);
  const other = toPemPair(generateSecrets().os);
  const bad = good
    .replace(/\n  secret: .*/, "\n  secret: not*base64")
    .replace(/token: .*/, "token: ABC.def")
    .replace(/(os:\n\s+crt: .*\n\s+key: ).*/, `$1${Buffer.from(other.key).toString("base64")}`)
    .replace("trustdinfo:", "trustdinfo:\n  extra: 1");
  const list = problems(bad);
  expect(list, list.join("\n")).toHaveLength(4);
  expect(list[0]).toMatch(/^cluster\.secret@\d+:\d+ not valid base64$/);
  expect(list.some((p) => /^trustdinfo\.extra@\d+:\d+ unknown field/.test(p))).toBe(true);
  expect(list.some((p) => /^trustdinfo\.token@\d+:\d+ expected a token like/.test(p))).toBe(true);
  expect(list.some((p) => /^certs\.os@\d+:\d+ cluster CA: the key does not belong to the certificate$/.test(p))).toBe(true);
});

test("swapped CAs, missing sections and broken YAML are refused by name", () => {
  const good = secretsToYaml(secrets);
  const swapped = good.replace(/(\n  os:\n)([\s\S]*?)(\n  etcd:\n)([\s\S]*)$/, (_m, a, os, c, etcd) => `${a}${etcd.trimEnd()}${c}${os}\n`);
  const list = problems(swapped);
  expect(list.some((p) => p.startsWith("certs.os.key") && p.includes("expected an ed25519 key, found ecdsa-p256"))).toBe(true);
  const later = new Date(Date.now() + 11 * 365 * 24 * 3600_000);
  expect(() => parseSecrets(good, "s.yaml", later)).toThrow(/certs\.os\.crt \(line \d+:\d+\): the CA expired at .*; rotate it/);
  expect(problems("cluster: {id: x}\n").some((p) => p.startsWith("certs@") && p.includes("missing"))).toBe(true);
  expect(problems("cluster: [\n")[0]).toMatch(/^@\d+:\d+ /);
  expect(() => loadSecrets(join(dir, "absent.yaml"))).toThrow(/cannot read secrets bundle .*absent\.yaml: ENOENT/);
});
