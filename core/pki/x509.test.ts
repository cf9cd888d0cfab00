// Certificates checked by parts nobody here wrote: the openssl command and node:crypto.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCsr, csrPem, loadCsr, verifyCsr } from "./csr.ts";
import {
  fromPemPair, issueAdminCert, issueClientCert, issueEtcdCert, issueNodeClientCert, issueNodeServerCert, LIFETIME, newClusterCA, newEtcdCA,
  needsRenewal, NOT_BEFORE_SKEW, signCsr, toPemPair, type CertAndKey,
} from "./issue.ts";
import { generateKey, loadPrivateKey, publicKeyPem } from "./keys.ts";
import { certificatePem, checkIssuedBy, loadCertificate, parseCertificate, signatureValid } from "./x509.ts";

let dir: string;
const now = new Date();

function openssl(...args: string[]): { code: number; out: string } {
  const r = Bun.spawnSync(["openssl", ...args], { cwd: dir });
  return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
}
function write(name: string, text: string): string {
  writeFileSync(join(dir, name), text);
  return name;
}

let ca: CertAndKey;
let etcdCa: CertAndKey;
let otherCa: CertAndKey;
interface Kind {
  name: string;
  ck: () => CertAndKey;
  caFile: string;
  purpose: ("sslclient" | "sslserver")[];
  subject: string;
  ku: string;
  eku: string;
  san?: string;
  lifetime: number;
}
let kinds: Kind[];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "bunker-pki-"));
  ca = newClusterCA(now);
  etcdCa = newEtcdCA(now);
  otherCa = newClusterCA(now);
  write("ca.pem", certificatePem(ca.certificate));
  write("etcd-ca.pem", certificatePem(etcdCa.certificate));
  write("other-ca.pem", certificatePem(otherCa.certificate));
  const sans = ["10.5.0.2", "fd00::2", "node1.example.com"];
  const made: Record<string, CertAndKey> = {
    admin: issueAdminCert(ca, now),
    operator: issueClientCert(ca, { commonName: "ops", roles: ["os:operator", "os:etcd:backup"], lifetime: 7 * 24 * 3600_000, now }),
    "node-server": issueNodeServerCert(ca, { hostname: "node1", sans, now }),
    "node-client": issueNodeClientCert(ca, { hostname: "node1", now }),
    "etcd-peer": issueEtcdCert(etcdCa, { hostname: "node1", sans: ["10.5.0.2"], now }),
  };
  kinds = [
    { name: "admin", ck: () => made.admin!, caFile: "ca.pem", purpose: ["sslclient"], subject: "O = os:admin, CN = admin", ku: "Digital Signature", eku: "TLS Web Client Authentication", lifetime: LIFETIME.admin },
    { name: "operator", ck: () => made.operator!, caFile: "ca.pem", purpose: ["sslclient"], subject: "O = os:operator, O = os:etcd:backup, CN = ops", ku: "Digital Signature", eku: "TLS Web Client Authentication", lifetime: 7 * 24 * 3600_000 },
    { name: "node-server", ck: () => made["node-server"]!, caFile: "ca.pem", purpose: ["sslserver"], subject: "CN = node1", ku: "Digital Signature", eku: "TLS Web Server Authentication", san: "DNS:node1, DNS:node1.example.com, IP Address:10.5.0.2, IP Address:FD00:0:0:0:0:0:0:2", lifetime: LIFETIME.node },
    { name: "node-client", ck: () => made["node-client"]!, caFile: "ca.pem", purpose: ["sslclient"], subject: "CN = node1", ku: "Digital Signature", eku: "TLS Web Client Authentication", lifetime: LIFETIME.node },
    { name: "etcd-peer", ck: () => made["etcd-peer"]!, caFile: "etcd-ca.pem", purpose: ["sslserver", "sslclient"], subject: "CN = node1", ku: "Digital Signature, Key Encipherment", eku: "TLS Web Server Authentication, TLS Web Client Authentication", san: "DNS:node1, IP Address:10.5.0.2", lifetime: LIFETIME.node },
  ];
  for (const k of kinds) {
    const p = toPemPair(k.ck());
    write(`${k.name}.pem`, p.crt);
    write(`${k.name}.key`, p.key);
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("openssl accepts every certificate kind", () => {
  test("the CAs are self-signed, strict X.509, CA:TRUE pathlen:0, keyCertSign", () => {
    for (const [file, alg, subject] of [["ca.pem", "ED25519", "O = bunker, CN = bunker"], ["etcd-ca.pem", "ecdsa-with-SHA256", "O = etcd, CN = etcd"]] as const) {
      expect(openssl("verify", "-x509_strict", "-CAfile", file, file)).toEqual({ code: 0, out: `${file}: OK\n` });
      const text = openssl("x509", "-text", "-noout", "-in", file).out;
      expect(text).toContain(`Signature Algorithm: ${alg}`);
      expect(text).toContain(`Subject: ${subject}`);
      expect(text).toMatch(/Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
      expect(text).toMatch(/Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign/);
    }
  });

  test("verify -x509_strict -purpose, and x509 -text shows subject, SANs, key usage, EKU", () => {
    for (const k of kinds) {
      for (const purpose of k.purpose) {
        const r = openssl("verify", "-x509_strict", "-purpose", purpose, "-CAfile", k.caFile, `${k.name}.pem`);
        expect({ kind: k.name, purpose, ...r }).toEqual({ kind: k.name, purpose, code: 0, out: `${k.name}.pem: OK\n` });
      }
      const text = openssl("x509", "-text", "-noout", "-in", `${k.name}.pem`).out;
      expect(text).toContain(`Subject: ${k.subject}\n`);
      expect(text).toMatch(new RegExp(`Key Usage: critical\\s+${k.ku}\\n`));
      expect(text).toMatch(new RegExp(`Extended Key Usage: \\s+${k.eku}\\n`));
      expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
      expect(text).toContain("Subject Key Identifier");
      expect(text).toContain("Authority Key Identifier");
      if (k.san) expect(text).toContain(`X509v3 Subject Alternative Name: \n                ${k.san}\n`);
      else expect(text).not.toContain("Subject Alternative Name");
      // The opposite purpose is refused: a client certificate cannot serve, and so on.
      const wrong = k.purpose.includes("sslclient") ? (k.purpose.includes("sslserver") ? undefined : "sslserver") : "sslclient";
      if (wrong) expect(openssl("verify", "-x509_strict", "-purpose", wrong, "-CAfile", k.caFile, `${k.name}.pem`).code).not.toBe(0);
    }
  });

  test("a certificate from another CA is refused", () => {
    const r = openssl("verify", "-x509_strict", "-purpose", "sslclient", "-CAfile", "other-ca.pem", "admin.pem");
    expect(r.code).not.toBe(0);
    expect(r.out).toContain("unable to get local issuer certificate");
  });

  test("validity: notBefore backdated by the skew, notAfter = now + lifetime", () => {
    for (const k of kinds) {
      const c = k.ck().certificate;
      const sec = (d: number) => Math.floor(d / 1000);
      expect(sec(c.notBefore.getTime())).toBe(sec(now.getTime() - NOT_BEFORE_SKEW));
      expect(sec(c.notAfter.getTime())).toBe(sec(now.getTime() + k.lifetime));
      const dates = openssl("x509", "-noout", "-enddate", "-in", `${k.name}.pem`).out.trim().replace("notAfter=", "");
      expect(new Date(dates).getTime()).toBe(sec(now.getTime() + k.lifetime) * 1000);
    }
  });

  test("node certificates ask for renewal after half their life, about 12 hours", () => {
    const c = kinds.find((k) => k.name === "node-server")!.ck().certificate;
    const at = (h: number) => new Date(now.getTime() + h * 3600_000);
    expect(needsRenewal(c, at(11.5))).toBe(false);
    expect(needsRenewal(c, at(12))).toBe(true); // half of 24 h + 10 min backdating
    expect(needsRenewal(ca.certificate, at(24 * 365))).toBe(false);
  });

  test("openssl reads our PKCS#8 keys, and derives the same public key", () => {
    for (const k of kinds) {
      const r = openssl("pkey", "-in", `${k.name}.key`, "-pubout");
      expect(r.code).toBe(0);
      expect(r.out).toBe(publicKeyPem(k.ck().key));
      expect(openssl("x509", "-noout", "-pubkey", "-in", `${k.name}.pem`).out).toBe(r.out);
    }
  });
});

describe("our parser and node:crypto agree", () => {
  test("node:crypto X509Certificate reads the same subject, SANs, serial, dates and verifies the chain", () => {
    for (const k of kinds) {
      const ours = k.ck().certificate;
      const theirs = new X509Certificate(certificatePem(ours));
      const caCert = k.caFile === "ca.pem" ? ca.certificate : etcdCa.certificate;
      const caX = new X509Certificate(certificatePem(caCert));
      expect(theirs.subject).toBe([...ours.subject.organizations.map((o) => `O=${o}`), `CN=${ours.subject.commonName}`].join("\n"));
      expect(theirs.serialNumber.toLowerCase().replace(/^0+/, "")).toBe(ours.serial);
      expect(new Date(theirs.validTo).getTime()).toBe(ours.notAfter.getTime());
      expect(theirs.checkIssued(caX)).toBe(true);
      expect(theirs.verify(caX.publicKey)).toBe(true);
      expect(theirs.verify(new X509Certificate(certificatePem(otherCa.certificate)).publicKey)).toBe(false);
      const sanText = [...ours.extensions.altNames.dns.map((d) => `DNS:${d}`), ...ours.extensions.altNames.ips.map((i) => `IP Address:${i.toUpperCase().replace("::", ":0:0:0:0:0:0:")}`)].join(", ");
      expect(theirs.subjectAltName ?? "").toBe(sanText);
      expect(checkIssuedBy(ours, caCert, now)).toEqual([]);
    }
  });

  test("our parser reports roles, usages, SANs and key ids", () => {
    const admin = loadCertificate(readFileSync(join(dir, "admin.pem"), "utf8"));
    expect(admin.roles).toEqual(["os:admin"]);
    expect(admin.extensions.extKeyUsage).toEqual(["clientAuth"]);
    expect(admin.extensions.keyUsage).toEqual(["digitalSignature"]);
    expect(admin.extensions.basicConstraints).toEqual({ ca: false, critical: true });
    expect(admin.extensions.authorityKeyId).toBe(ca.certificate.extensions.subjectKeyId!);
    expect(admin.publicKey.algorithm).toBe("ed25519");
    expect(admin.publicKey.raw.length).toBe(32);
    expect(admin.serial.length).toBeGreaterThan(24); // 16 random bytes; top bit cleared
    const srv = kinds.find((k) => k.name === "node-server")!.ck().certificate;
    expect(srv.extensions.altNames).toEqual({ dns: ["node1", "node1.example.com"], ips: ["10.5.0.2", "fd00::2"] });
    expect(etcdCa.certificate.publicKey.algorithm).toBe("ecdsa-p256");
    expect(etcdCa.certificate.extensions.basicConstraints).toEqual({ ca: true, pathLen: 0, critical: true });
  });

  test("a tampered certificate fails its signature, and the wrong CA is named", () => {
    const admin = kinds[0]!.ck().certificate;
    const der = new Uint8Array(admin.der);
    const i = Buffer.from(der).indexOf(Buffer.from("os:admin"));
    der[i + 3] = "x".charCodeAt(0); // os:xdmin
    const forged = parseCertificate(der);
    expect(forged.roles).toEqual(["os:xdmin"]);
    expect(signatureValid(forged, ca.certificate)).toBe(false);
    expect(checkIssuedBy(admin, otherCa.certificate, now)).toContain("the signature is not the CA's");
    expect(checkIssuedBy(admin, ca.certificate, new Date(now.getTime() + 2 * LIFETIME.admin))[0]).toMatch(/certificate expired at/);
    expect(checkIssuedBy(ca.certificate, admin, now)).toContain("the issuer is not a CA (basicConstraints)");
  });

  test("fromPemPair refuses a key that is not the certificate's", () => {
    const admin = toPemPair(kinds[0]!.ck());
    expect(fromPemPair(admin).certificate.roles).toEqual(["os:admin"]);
    expect(() => fromPemPair({ crt: admin.crt, key: toPemPair(ca).key }, "admin")).toThrow("admin: the key does not belong to the certificate");
    expect(() => fromPemPair({ crt: "junk", key: admin.key }, "admin")).toThrow(/admin crt: PEM: expected a CERTIFICATE block/);
  });
});

describe("certificates openssl made, read by our parser", () => {
  test("an openssl Ed25519 CA and a leaf with SANs and EKU", () => {
    expect(openssl("genpkey", "-algorithm", "ed25519", "-out", "o-ca.key").code).toBe(0);
    expect(openssl("req", "-x509", "-new", "-key", "o-ca.key", "-subj", "/O=acme/CN=Acme Root", "-days", "30", "-out", "o-ca.pem",
      "-addext", "basicConstraints=critical,CA:TRUE,pathlen:1", "-addext", "keyUsage=critical,keyCertSign,cRLSign").code).toBe(0);
    expect(openssl("genpkey", "-algorithm", "ed25519", "-out", "o-leaf.key").code).toBe(0);
    expect(openssl("req", "-new", "-key", "o-leaf.key", "-subj", "/O=os:reader/O=team/CN=leaf", "-out", "o-leaf.csr").code).toBe(0);
    write("o-leaf.ext", "subjectAltName=DNS:a.example, IP:192.0.2.7, IP:2001:db8::7\nextendedKeyUsage=clientAuth,serverAuth\nkeyUsage=critical,digitalSignature\nbasicConstraints=critical,CA:FALSE\n");
    expect(openssl("x509", "-req", "-in", "o-leaf.csr", "-CA", "o-ca.pem", "-CAkey", "o-ca.key", "-CAcreateserial", "-days", "2", "-extfile", "o-leaf.ext", "-out", "o-leaf.pem").code).toBe(0);

    const caC = loadCertificate(readFileSync(join(dir, "o-ca.pem"), "utf8"));
    const leaf = loadCertificate(readFileSync(join(dir, "o-leaf.pem"), "utf8"));
    expect(caC.subject.organizations).toEqual(["acme"]);
    expect(caC.subject.commonName).toBe("Acme Root");
    expect(caC.extensions.basicConstraints).toEqual({ ca: true, pathLen: 1, critical: true });
    expect(leaf.roles).toEqual(["os:reader", "team"]);
    expect(leaf.extensions.altNames).toEqual({ dns: ["a.example"], ips: ["192.0.2.7", "2001:db8::7"] });
    expect(leaf.extensions.extKeyUsage).toEqual(["clientAuth", "serverAuth"]);
    expect(leaf.signatureAlgorithm).toBe("ed25519");
    const serial = openssl("x509", "-noout", "-serial", "-in", "o-leaf.pem").out.trim().replace("serial=", "").toLowerCase().replace(/^0+/, "");
    expect(leaf.serial).toBe(serial);
    const end = openssl("x509", "-noout", "-enddate", "-in", "o-leaf.pem").out.trim().replace("notAfter=", "");
    expect(leaf.notAfter.getTime()).toBe(new Date(end).getTime());
    expect(checkIssuedBy(leaf, caC)).toEqual([]);
    // and an openssl key is usable by us: sign a leaf under the openssl CA, which openssl verifies
    const oCa = { certificate: caC, key: loadPrivateKey(readFileSync(join(dir, "o-ca.key"), "utf8")) };
    write("ours-under-openssl.pem", certificatePem(issueAdminCert(oCa).certificate));
    expect(openssl("verify", "-x509_strict", "-purpose", "sslclient", "-CAfile", "o-ca.pem", "ours-under-openssl.pem").code).toBe(0);
  });

  test("an openssl ECDSA P-256 self-signed certificate", () => {
    expect(openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "o-ec.key", "-subj", "/CN=ec", "-days", "1", "-out", "o-ec.pem").code).toBe(0);
    const c = loadCertificate(readFileSync(join(dir, "o-ec.pem"), "utf8"));
    expect(c.publicKey.algorithm).toBe("ecdsa-p256");
    expect(c.signatureAlgorithm).toBe("ecdsa-sha256");
    expect(signatureValid(c, c)).toBe(true);
  });
});

test("an openssl RSA certificate is read; it can never pass as one of ours", () => {
  expect(openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "o-rsa.key", "-subj", "/CN=rsa", "-days", "1", "-out", "o-rsa.pem").code).toBe(0);
  const c = loadCertificate(readFileSync(join(dir, "o-rsa.pem"), "utf8"));
  expect(c.publicKey.algorithm).toBe("1.2.840.113549.1.1.1");
  expect(c.signatureAlgorithm).toBe("1.2.840.113549.1.1.11");
  expect(signatureValid(c, c)).toBe(false);
  expect(checkIssuedBy(c, c)).toContain("the signature is not the CA's");
});

test("long DNS names (over 127 bytes, long-form lengths) survive both ways", () => {
  const long = `${"a".repeat(60)}.${"b".repeat(60)}.${"c".repeat(60)}.example`;
  const ck = issueNodeServerCert(ca, { hostname: "n", sans: [long], now });
  expect(ck.certificate.extensions.altNames.dns).toEqual(["n", long]);
  write("long.pem", certificatePem(ck.certificate));
  expect(openssl("verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", "ca.pem", "long.pem").code).toBe(0);
  expect(new X509Certificate(certificatePem(ck.certificate)).subjectAltName).toBe(`DNS:n, DNS:${long}`);
});

describe("PKCS#10 requests", () => {
  test("openssl verifies our request and shows its subject and SANs", () => {
    const key = generateKey("ed25519");
    const csr = createCsr({ subject: { commonName: "worker1", organizations: ["os:admin"] }, key, altNames: { dns: ["worker1"], ips: ["10.5.0.3"] } });
    write("w.csr", csrPem(csr));
    const r = openssl("req", "-in", "w.csr", "-noout", "-verify", "-text");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/verify OK|Certificate request self-signature verify OK/);
    expect(r.out).toContain("Subject: O = os:admin, CN = worker1");
    expect(r.out).toContain("DNS:worker1, IP Address:10.5.0.3");
    expect(verifyCsr(csr)).toBe(true);
  });

  test("signing strips the requested roles; openssl verifies the result as a server certificate", () => {
    const key = generateKey("ed25519");
    const csr = loadCsr(csrPem(createCsr({ subject: { commonName: "worker1", organizations: ["os:admin"] }, key, altNames: { dns: ["worker1"], ips: ["10.5.0.3"] } })));
    const crt = signCsr(ca, csr, { usage: ["serverAuth"], lifetime: LIFETIME.node });
    expect(crt.roles).toEqual([]);
    expect(crt.subject.commonName).toBe("worker1");
    expect(crt.extensions.altNames).toEqual({ dns: ["worker1"], ips: ["10.5.0.3"] });
    write("w.pem", certificatePem(crt));
    expect(openssl("verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", "ca.pem", "w.pem").code).toBe(0);
    expect(openssl("x509", "-noout", "-subject", "-in", "w.pem").out.trim()).toBe("subject=CN = worker1");
  });

  test("a request openssl made is read and verified; a forged one is refused", () => {
    expect(openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "r.key", "-subj", "/O=x/CN=r1", "-addext", "subjectAltName=DNS:r1,IP:10.0.0.9", "-out", "r.csr").code).toBe(0);
    const csr = loadCsr(readFileSync(join(dir, "r.csr"), "utf8"));
    expect(csr.subject.commonName).toBe("r1");
    expect(csr.extensions.altNames).toEqual({ dns: ["r1"], ips: ["10.0.0.9"] });
    expect(verifyCsr(csr)).toBe(true);
    const forged = { ...csr, signature: new Uint8Array(csr.signature).map((b, i) => (i === 10 ? b ^ 1 : b)) };
    expect(verifyCsr(forged)).toBe(false);
    expect(() => signCsr(etcdCa, forged, { usage: ["clientAuth"], lifetime: LIFETIME.node })).toThrow(/signature does not match/);
  });
});
