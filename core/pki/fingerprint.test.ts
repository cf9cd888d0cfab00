import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { selfSigned } from "../../services/init/apicerts.ts";
import { certificateFingerprint, compactFingerprint, opensslFingerprint, parseFingerprint, sameFingerprint } from "./fingerprint.ts";
import { certificatePem } from "./x509.ts";

test("the fingerprint of a certificate is openssl x509 -fingerprint -sha256's, in both spellings", () => {
  const dir = mkdtempSync(join(tmpdir(), "fp-"));
  try {
    const { certificate } = selfSigned("node", ["127.0.0.1", "node"], 3_600_000);
    writeFileSync(join(dir, "c.pem"), certificatePem(certificate));
    const out = Bun.spawnSync(["openssl", "x509", "-in", join(dir, "c.pem"), "-noout", "-fingerprint", "-sha256"]).stdout.toString();
    const fp = certificateFingerprint(certificate.der);
    expect(out.trim()).toMatch(new RegExp(`^sha256 Fingerprint=${opensslFingerprint(fp)}$`, "i"));
    expect(opensslFingerprint(fp)).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(compactFingerprint(fp)).toBe(`SHA256:${fp.toString("base64").replace(/=$/, "")}`);
    // Each spelling reads back to the same digest; openssl's whole line too.
    for (const s of [compactFingerprint(fp), `${compactFingerprint(fp)}=`, opensslFingerprint(fp), opensslFingerprint(fp).toLowerCase(), fp.toString("hex"), out.trim(), ` ${compactFingerprint(fp)}\n`]) {
      expect(sameFingerprint(parseFingerprint(s), fp)).toBe(true);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("malformed fingerprints are refused, saying what is expected", () => {
  const good = compactFingerprint(Buffer.alloc(32, 1));
  for (const bad of ["", "SHA256:", "SHA256:abc", good.slice(0, -1), `${good}AA`, "AB:CD", "AB".repeat(31), "AB".repeat(33), "ABCD:".repeat(16).slice(0, -1), "MD5:" + good.slice(7), "zz".repeat(32)]) {
    expect(() => parseFingerprint(bad)).toThrow("expected SHA256:BASE64 or the 64 hex digits");
  }
  expect(sameFingerprint(Buffer.alloc(32, 1), Buffer.alloc(32, 2))).toBe(false);
  expect(sameFingerprint(Buffer.alloc(32, 1), Buffer.alloc(31, 1))).toBe(false);
});
