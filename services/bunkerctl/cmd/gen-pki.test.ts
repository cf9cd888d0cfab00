// gen key | ca | csr | crt: an operator's own certificates, checked with openssl.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCtl } from "../testing.ts";

const dir = mkdtempSync(join(tmpdir(), "bunker-gen-pki-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ctl = (...args: string[]) => runCtl(dir, {}, ...args);
const openssl = (...args: string[]) => {
  const r = Bun.spawnSync(["openssl", ...args], { cwd: dir });
  return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
};

test("a reader certificate: key, request (asking for admin), signed granting only os:reader", () => {
  expect(ctl("gen", "ca", "--organization", "lab")).toMatchObject({ code: 0, out: "wrote ca.crt\nwrote ca.key\n" });
  expect(statSync(join(dir, "ca.key")).mode & 0o777).toBe(0o600);
  expect(ctl("gen", "key", "-o", "r.key").code).toBe(0);
  expect(openssl("pkey", "-in", "r.key", "-noout", "-text").out).toContain("ED25519 Private-Key");
  expect(ctl("gen", "csr", "--key", "r.key", "--name", "robot", "--roles", "os:admin", "-o", "r.csr").code).toBe(0);
  const req = openssl("req", "-in", "r.csr", "-noout", "-verify", "-subject");
  expect(req.code).toBe(0);
  expect(req.out).toContain("subject=O = os:admin, CN = robot");
  expect(ctl("gen", "crt", "--ca", "ca", "--csr", "r.csr", "--roles", "os:reader", "--hours", "2", "-o", "r.crt").code).toBe(0);
  expect(openssl("verify", "-x509_strict", "-purpose", "sslclient", "-CAfile", "ca.crt", "r.crt").out).toBe("r.crt: OK\n");
  expect(openssl("x509", "-noout", "-subject", "-in", "r.crt").out).toBe("subject=O = os:reader, CN = robot\n");
  const dates = openssl("x509", "-noout", "-startdate", "-enddate", "-in", "r.crt").out.match(/notBefore=(.*)\nnotAfter=(.*)\n/)!;
  // 2 hours of life plus the 10 minutes notBefore is backdated
  expect(new Date(dates[2]!).getTime() - new Date(dates[1]!).getTime()).toBe(2 * 3600_000 + 10 * 60_000);
});

test("an ECDSA server certificate keeps the request's SANs", () => {
  expect(ctl("gen", "ca", "--organization", "ec", "--algorithm", "ecdsa-p256", "-o", "ec").code).toBe(0);
  expect(ctl("gen", "key", "--algorithm", "ecdsa-p256", "-o", "s.key").code).toBe(0);
  expect(ctl("gen", "csr", "--key", "s.key", "--name", "srv", "--sans", "srv.example,10.1.2.3", "-o", "s.csr").code).toBe(0);
  expect(ctl("gen", "crt", "--ca", "ec", "--csr", "s.csr", "--usage", "server", "-o", "s.crt").code).toBe(0);
  expect(openssl("verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", "ec.crt", "s.crt").out).toBe("s.crt: OK\n");
  expect(openssl("x509", "-noout", "-ext", "subjectAltName", "-in", "s.crt").out).toContain("DNS:srv.example, IP Address:10.1.2.3");
  // a client certificate from another CA's signature does not verify under this one
  expect(openssl("verify", "-x509_strict", "-CAfile", "ca.crt", "s.crt").code).not.toBe(0);
});

test("refusals: missing flags and bad values exit 2; existing files and wrong inputs exit 1", () => {
  expect(ctl("gen", "ca").code).toBe(2);
  expect(ctl("gen", "key", "--algorithm", "rsa")).toMatchObject({ code: 2, err: expect.stringContaining('unknown algorithm "rsa"') });
  expect(ctl("gen", "crt", "--ca", "ca", "--csr", "r.csr", "--hours", "0")).toMatchObject({ code: 2, err: expect.stringContaining("--hours must be a positive number") });
  expect(ctl("gen", "crt", "--ca", "ca", "--csr", "r.csr", "--usage", "peer").code).toBe(2);
  expect(ctl("gen", "key", "-o", "r.key")).toMatchObject({ code: 1, err: expect.stringContaining("r.key already exists") });
  expect(ctl("gen", "crt", "--ca", "ca", "--csr", "r.key", "-o", "x.crt")).toMatchObject({ code: 1, err: expect.stringContaining("expected a CERTIFICATE REQUEST block, found PRIVATE KEY") });
  expect(ctl("gen", "csr", "--key", "ca.crt", "--name", "x", "-o", "x.csr")).toMatchObject({ code: 1, err: expect.stringContaining("ca.crt: not a readable private key PEM") });
});
