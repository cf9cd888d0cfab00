import { expect, test } from "bun:test";
import { createCsr, csrPem } from "../../core/pki/csr.ts";
import { newClusterCA } from "../../core/pki/issue.ts";
import { generateKey } from "../../core/pki/keys.ts";
import { canonicalName, decodeCsr, RequestError, signNodeRequest } from "./sign.ts";

const ca = newClusterCA();
const key = generateKey("ed25519");
const csr = (cn: string, dns: string[] = [], ips: string[] = [], orgs: string[] = []) =>
  createCsr({ subject: { commonName: cn, organizations: orgs }, key, altNames: { dns, ips } });

test("a node certificate: no role, not a CA, serverAuth + clientAuth, 24 h, the peer's address always", () => {
  const s = signNodeRequest(ca, csr("worker-1", ["worker-1.lan"], ["10.5.0.7"], ["os:admin", "os:impersonator"]), "10.5.0.7", { reserved: [] });
  const c = s.certificate;
  expect(c.subject.organizations).toEqual([]);
  expect(c.extensions.basicConstraints?.ca).toBe(false);
  expect([...c.extensions.extKeyUsage].sort()).toEqual(["clientAuth", "serverAuth"]);
  expect(c.notAfter.getTime() - Date.now()).toBeGreaterThan(23.9 * 3600_000);
  expect(c.notAfter.getTime() - Date.now()).toBeLessThanOrEqual(24 * 3600_000);
  expect(c.extensions.altNames.ips).toEqual(["10.5.0.7"]);
  expect(c.extensions.altNames.dns.sort()).toEqual(["worker-1", "worker-1.lan"]);
});

test("names the control plane answers to, loopback and localhost are left out, except the peer's own address", () => {
  const s = signNodeRequest(ca, csr("w", ["cp.example.com", "LOCALHOST"], ["10.5.0.2", "127.0.0.1", "10.5.0.9"]), "::ffff:10.5.0.9", { reserved: ["10.5.0.2", "cp.example.com."] });
  expect(s.sans.sort()).toEqual(["10.5.0.9", "w"]);
  expect(s.dropped.sort()).toEqual(["10.5.0.2", "127.0.0.1", "cp.example.com", "localhost"]);
  // Container mode: everyone is 127.0.0.1, which the peer may hold since it comes from there.
  expect(signNodeRequest(ca, csr("w", [], ["127.0.0.1"]), "127.0.0.1", { reserved: ["127.0.0.1"] }).sans).toContain("127.0.0.1");
});

test("wildcards, bad names, unspecified or multicast addresses and too many names are refused, naming the culprit", () => {
  expect(() => signNodeRequest(ca, csr("w", ["*.example.com"]), "10.0.0.1", { reserved: [] })).toThrow(/\*\.example\.com.*wildcards/);
  expect(() => signNodeRequest(ca, csr("w", [], ["0.0.0.0"]), "10.0.0.1", { reserved: [] })).toThrow(RequestError);
  expect(() => signNodeRequest(ca, csr("w", [], ["224.0.0.1"]), "10.0.0.1", { reserved: [] })).toThrow(/multicast/);
  expect(() => signNodeRequest(ca, csr("bad name!"), "10.0.0.1", { reserved: [] })).toThrow(/CN "bad name!"/);
  const many = Array.from({ length: 40 }, (_, i) => `n${i}.example.com`);
  expect(() => signNodeRequest(ca, csr("w", many), "10.0.0.1", { reserved: [] })).toThrow(/more than 32/);
});

test("requests decode from PEM or DER; garbage, oversize and forged ones are refused", () => {
  const c = csr("w");
  expect(decodeCsr(Buffer.from(csrPem(c))).subject.commonName).toBe("w");
  expect(decodeCsr(c.der).subject.commonName).toBe("w");
  expect(() => decodeCsr(new Uint8Array())).toThrow(/empty/);
  expect(() => decodeCsr(Buffer.from("hello"))).toThrow(/PKCS#10/);
  expect(() => decodeCsr(new Uint8Array(20_000))).toThrow(/more than/);
  const forged = Uint8Array.from(c.der);
  forged[forged.length - 1]! ^= 1;
  expect(() => decodeCsr(forged)).toThrow(/signature/);
});

test("canonical names", () => {
  expect(canonicalName("::ffff:127.0.0.1")).toBe("127.0.0.1");
  expect(canonicalName("[FD00::0:1]")).toBe("fd00::1");
  expect(canonicalName("Node.Example.COM.")).toBe("node.example.com");
});
