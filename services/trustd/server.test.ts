import { afterAll, expect, test } from "bun:test";
import { SecurityService } from "../../core/api/gen/services.ts";
import { GrpcClient } from "../../core/grpc/client.ts";
import { GrpcServer } from "../../core/grpc/server.ts";
import { Status } from "../../core/grpc/status.ts";
import { createCsr, csrPem } from "../../core/pki/csr.ts";
import { issueLeaf, newClusterCA, toPemPair } from "../../core/pki/issue.ts";
import { generateKey, privateKeyPem } from "../../core/pki/keys.ts";
import { certificatePem, checkIssuedBy, loadCertificate } from "../../core/pki/x509.ts";
import { Trustd, type Refusal } from "./server.ts";

const TOKEN = "abcdef.0123456789abcdef";
const ca = newClusterCA();
const refusals: Refusal[] = [];
const trustd = new Trustd({
  secrets: { ca: toPemPair(ca), token: TOKEN, reserved: ["127.0.0.2"], hostname: "cp", sans: ["127.0.0.1"] },
  limit: { capacity: 3, refillPerSecond: 0.001 },
  onRefused: (r) => refusals.push(r),
});
const server = new GrpcServer();
server.handle(SecurityService.Certificate, trustd.certificate);
const serving = issueLeaf(ca, { commonName: "cp", sans: ["127.0.0.1"], lifetime: 3600_000, usage: ["serverAuth"] });
const addr = await server.listenTls({ host: "127.0.0.1", port: 0, cert: certificatePem(serving.certificate), key: privateKeyPem(serving.key), requireClientCert: false });
const client = GrpcClient.tls({ address: `127.0.0.1:${addr.port}`, ca: certificatePem(ca.certificate) });
afterAll(async () => { client.close(); await server.close(); });

const key = generateKey("ed25519");
const csr = Buffer.from(csrPem(createCsr({ subject: { commonName: "worker-1", organizations: ["os:admin"] }, key, altNames: { ips: ["127.0.0.2"] } })));
const code = (p: Promise<unknown>) => p.then(() => 0, (e: { code?: number }) => e.code ?? -1);

test("the join token gets a node certificate chaining to the CA; the request's role and reserved names are gone", async () => {
  const res = await client.unary(SecurityService.Certificate, { csr }, { metadata: { token: TOKEN } });
  const crt = loadCertificate(Buffer.from(res.crt!).toString());
  expect(checkIssuedBy(crt, ca.certificate)).toEqual([]);
  expect(crt.subject.organizations).toEqual([]);
  expect(crt.extensions.altNames.ips).toEqual(["127.0.0.1"]);
  expect(Buffer.from(res.ca!).toString()).toBe(certificatePem(ca.certificate));
});

test("a wrong or missing token is refused UNAUTHENTICATED and reported without the token; then the peer is rate-limited", async () => {
  expect(await code(client.unary(SecurityService.Certificate, { csr }, { metadata: { token: "abcdef.0123456789abcdeX" } }))).toBe(Status.UNAUTHENTICATED);
  expect(await code(client.unary(SecurityService.Certificate, { csr }))).toBe(Status.UNAUTHENTICATED);
  expect(refusals.map((r) => r.reason)).toEqual(["wrong join token", 'no join token: send machine.token in the metadata "token"']);
  expect(JSON.stringify(refusals)).not.toContain("abcdef");
  expect(refusals[0]!.peer).toBe("127.0.0.1");
  expect(await code(client.unary(SecurityService.Certificate, { csr }, { metadata: { token: "x" } }))).toBe(Status.UNAUTHENTICATED);
  // Budget spent: even the right token is not looked at from this address for a while.
  expect(await code(client.unary(SecurityService.Certificate, { csr }, { metadata: { token: TOKEN } }))).toBe(Status.RESOURCE_EXHAUSTED);
  expect(refusals.length).toBe(3);
});

test("a token holder's bad request is INVALID_ARGUMENT", async () => {
  const t = new Trustd({ secrets: { ca: toPemPair(ca), token: TOKEN, reserved: [], hostname: "cp", sans: [] } });
  const ctx = { metadata: { token: TOKEN }, peer: { transport: "tls", address: "10.0.0.1" } } as never;
  expect(() => t.certificate({ csr: Buffer.from("junk") }, ctx)).toThrow(/PKCS#10/);
  expect(t.buckets.allowed("10.0.0.1")).toBe(true);
});

test("Register: a certificate of the CA naming the caller's address is listed; others are refused with the reason", () => {
  const got: { peer: string; apiPort: number; commonName: string }[] = [];
  const other = newClusterCA();
  const t = new Trustd({ secrets: { ca: toPemPair(ca), token: TOKEN, reserved: [], hostname: "cp", sans: [] }, onRegistered: (r) => got.push(r) });
  const ctx = (address: string, token = TOKEN) => ({ metadata: { token }, peer: { transport: "tls", address } }) as never;
  const node = (issuer = ca, ips = ["10.0.0.5"], o: { lifetime?: number; now?: Date } = {}) =>
    Buffer.from(certificatePem(issueLeaf(issuer, { commonName: "w1", sans: ips, lifetime: o.lifetime ?? 3600_000, usage: ["serverAuth", "clientAuth"], ...(o.now ? { now: o.now } : {}) }).certificate));
  expect(t.register({ crt: node(), apiPort: 50010 }, ctx("10.0.0.5"))).toEqual({});
  expect(got).toEqual([expect.objectContaining({ peer: "10.0.0.5", apiPort: 50010, commonName: "w1" })]);
  // Another node's certificate: it cannot make this control plane list (and relay to) someone else.
  expect(() => t.register({ crt: node(), apiPort: 0 }, ctx("10.0.0.6"))).toThrow(/does not name 10\.0\.0\.6/);
  expect(() => t.register({ crt: node(other), apiPort: 0 }, ctx("10.0.0.5"))).toThrow(/not one of the cluster CA/);
  expect(() => t.register({ crt: node(ca, ["10.0.0.5"], { now: new Date(Date.now() - 7200_000) }), apiPort: 0 }, ctx("10.0.0.5"))).toThrow(/expired/);
  expect(() => t.register({ crt: Buffer.from("junk"), apiPort: 0 }, ctx("10.0.0.5"))).toThrow(/certificate/);
  expect(() => t.register({ crt: node(), apiPort: 0 }, ctx("10.0.0.5", "wrong.token"))).toThrow(/wrong join token/);
  expect(got.length).toBe(1);
});
