import { describe, expect, test } from "bun:test";
import { sign } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkArtifacts, describeFile, generateSigningKey, loadSigningKey, openManifest, parsePublicKey, rawPublicKey, securityVersionOf, sha256File, signManifest } from "./manifest.ts";

describe("signed manifest", () => {
  test("sha256File agrees with sha256sum", () => {
    const dir = mkdtempSync(join(tmpdir(), "man-"));
    try {
      writeFileSync(join(dir, "f"), Buffer.alloc(5_000_000, 7));
      const ref = Bun.spawnSync(["sha256sum", join(dir, "f")]).stdout.toString().slice(0, 64);
      expect(sha256File(join(dir, "f"))).toBe(ref);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a signature openssl accepts; a flipped byte, a wrong key and a flipped artifact are caught", () => {
    const dir = mkdtempSync(join(tmpdir(), "man-"));
    try {
      const key = generateSigningKey();
      writeFileSync(join(dir, "a"), "alpha");
      writeFileSync(join(dir, "b"), "bravo");
      const { json, sig } = signManifest("image", { version: "1" }, [describeFile("b", join(dir, "b")), describeFile("a", join(dir, "a"))], key);
      // Deterministic: Ed25519 signatures do not depend on randomness.
      expect(signManifest("image", { version: "1" }, [describeFile("a", join(dir, "a")), describeFile("b", join(dir, "b"))], key)).toEqual({ json, sig });

      // Independent check of the signature with openssl.
      writeFileSync(join(dir, "m.json"), json);
      writeFileSync(join(dir, "m.sig"), Buffer.from(sig.trim(), "base64"));
      const pub = loadSigningKey(key).publicKey.export({ format: "pem", type: "spki" }).toString();
      writeFileSync(join(dir, "pub.pem"), pub);
      const ossl = Bun.spawnSync(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", join(dir, "pub.pem"), "-rawin", "-in", join(dir, "m.json"), "-sigfile", join(dir, "m.sig")]);
      expect(ossl.stdout.toString()).toContain("Signature Verified Successfully");

      const m = openManifest(Buffer.from(json), sig, parsePublicKey(pub));
      expect(m.artifacts.map((a) => a.name)).toEqual(["a", "b"]);
      expect(checkArtifacts(m, (n) => join(dir, n))).toEqual([]);

      const tampered = Buffer.from(json.replace('"kind": "image"', '"kind": "imagf"'));
      expect(() => openManifest(tampered, sig)).toThrow("signature does not match");
      const other = parsePublicKey(rawPublicKey(loadSigningKey(generateSigningKey()).publicKey).toString("base64"));
      expect(() => openManifest(Buffer.from(json), sig, other)).toThrow("does not match the trusted public key");

      writeFileSync(join(dir, "b"), readFileSync(join(dir, "b"), "utf8").replace("a", "A"));
      rmSync(join(dir, "a"));
      expect(checkArtifacts(m, (n) => join(dir, n))).toEqual([
        { name: "a", problem: "missing" },
        { name: "b", problem: expect.stringContaining("sha256 ") },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a non-Ed25519 key and a duplicate artifact are refused", () => {
    const rsa = Bun.spawnSync(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]).stdout.toString();
    expect(() => signManifest("x", {}, [], rsa)).toThrow("expected ed25519");
    const a = { name: "a", size: 1, sha256: "00" };
    expect(() => signManifest("x", {}, [a, a], generateSigningKey())).toThrow("'a' listed twice");
  });

  test("the security version is signed: default 0, carried, tamper-evident, validated; absent (older manifests) counts as 0", () => {
    const key = generateSigningKey();
    const pub = loadSigningKey(key).publicKey;
    const a = { name: "a", size: 1, sha256: "00" };
    const zero = signManifest("image", {}, [a], key);
    expect(JSON.parse(zero.json).securityVersion).toBe(0);
    const seven = signManifest("image", {}, [a], key, { securityVersion: 7 });
    const m = openManifest(Buffer.from(seven.json), seven.sig, pub);
    expect(m.securityVersion).toBe(7);
    expect(securityVersionOf(m)).toBe(7);
    // Raising it in a replayed manifest breaks the signature.
    const raised = Buffer.from(seven.json.replace('"securityVersion": 7', '"securityVersion": 8'));
    expect(raised.equals(Buffer.from(seven.json))).toBe(false);
    expect(() => openManifest(raised, seven.sig, pub)).toThrow("signature does not match the trusted public key");
    for (const bad of [-1, 1.5, 2 ** 31, Number.NaN]) {
      expect(() => signManifest("image", {}, [a], key, { securityVersion: bad })).toThrow("security version must be an integer");
    }
    // A manifest made before the field existed: still valid, security version 0.
    const old = JSON.stringify({ format: "bunker-manifest/1", kind: "image", build: {}, publicKey: rawPublicKey(pub).toString("base64"), artifacts: [a] }, null, 2) + "\n";
    const oldSig = sign(null, Buffer.from(old), loadSigningKey(key).privateKey).toString("base64");
    expect(securityVersionOf(openManifest(Buffer.from(old), oldSig, pub))).toBe(0);
    // A signed but malformed value is refused, not read as 0.
    const odd = old.replace('"build": {},', '"build": {},\n  "securityVersion": "9",');
    const oddSig = sign(null, Buffer.from(odd), loadSigningKey(key).privateKey).toString("base64");
    expect(() => openManifest(Buffer.from(odd), oddSig, pub)).toThrow('securityVersion is "9", expected an integer');
  });
});
