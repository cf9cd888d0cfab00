/**
 * `bunker verify-image DIR`: checks an image folder built by rootfs/build against its signed
 * manifest: the Ed25519 signature of manifest.json, then the size and SHA-256 of every artifact,
 * naming each mismatch. Exit 0 when everything matches, 1 when anything does not, 2 on bad usage.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { IMAGE_FILES, MANIFEST_FILES } from "../../core/image/layout.ts";
import { checkArtifacts, openManifest, parsePublicKey, type Manifest } from "../../core/image/manifest.ts";
import { parseCli, usageError } from "../cli.ts";

const HELP = `usage: bunker verify-image DIR [--pubkey KEY] [-o json]

Checks DIR/manifest.json's Ed25519 signature (DIR/manifest.sig) and the size and SHA-256 of
every artifact it lists; names each mismatch.
  --pubkey KEY  the trusted public key: a file (PEM, or the raw key in base64 as in image.pub)
                or the base64 text itself. Without it the key named in the manifest is used,
                which proves the files are intact but not who built them.
  -o json       print the result as JSON
`;

interface Result {
  dir: string;
  signature: "valid" | "invalid";
  trustedKey: boolean;
  error?: string;
  artifacts: { name: string; ok: boolean; problem?: string }[];
  unlisted: string[];
}

export function verifyImageDir(dir: string, pubkey?: string): Result {
  const res: Result = { dir, signature: "invalid", trustedKey: pubkey !== undefined, artifacts: [], unlisted: [] };
  let m: Manifest;
  try {
    const key = pubkey === undefined ? undefined : parsePublicKey(existsSync(pubkey) ? readFileSync(pubkey, "utf8") : pubkey);
    m = openManifest(readFileSync(join(dir, IMAGE_FILES.manifest)), readFileSync(join(dir, IMAGE_FILES.signature), "utf8"), key);
  } catch (e) {
    res.error = (e as Error).message;
    return res;
  }
  res.signature = "valid";
  const bad = new Map(checkArtifacts(m, (n) => join(dir, n)).map((b) => [b.name, b.problem]));
  res.artifacts = m.artifacts.map((a) => (bad.has(a.name) ? { name: a.name, ok: false, problem: bad.get(a.name)! } : { name: a.name, ok: true }));
  const listed = new Set([...m.artifacts.map((a) => a.name), ...MANIFEST_FILES]);
  res.unlisted = readdirSync(dir).filter((f) => !listed.has(f)).sort();
  return res;
}

export function main(argv: string[]): number {
  const a = parseCli("verify-image", argv, HELP.trimEnd(), { pubkey: { type: "string" }, output: { type: "string", short: "o" } }, [1, 1]);
  if (typeof a === "number") return a;
  const { pubkey, output } = a.values;
  if (output !== undefined && output !== "json" && output !== "text") return usageError("verify-image", HELP, `-o ${output}: expected text or json`);
  const json = output === "json";
  const r = verifyImageDir(a.positionals[0]!, pubkey);
  const ok = r.signature === "valid" && r.artifacts.every((a) => a.ok);
  if (json) {
    process.stdout.write(JSON.stringify({ ok, ...r }, null, 2) + "\n");
    return ok ? 0 : 1;
  }
  if (r.error) {
    process.stdout.write(`FAIL signature: ${r.error}\n`);
    return 1;
  }
  process.stdout.write(`ok   signature (${r.trustedKey ? "trusted key" : "key named in the manifest; pass --pubkey to pin it"})\n`);
  for (const a of r.artifacts) process.stdout.write(a.ok ? `ok   ${a.name}\n` : `FAIL ${a.name}: ${a.problem}\n`);
  for (const u of r.unlisted) process.stdout.write(`note ${u}: not in the manifest\n`);
  process.stdout.write(ok ? `verified: ${r.artifacts.length} artifact(s) match the signed manifest\n` : `NOT verified: ${r.artifacts.filter((a) => !a.ok).length} mismatch(es)\n`);
  return ok ? 0 : 1;
}
