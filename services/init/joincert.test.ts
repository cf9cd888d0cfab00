/** A worker's apid certificate from an in-process trustd over real TLS: joined, refused, unreachable. */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SecurityService } from "../../core/api/gen/services.ts";
import { GrpcServer } from "../../core/grpc/server.ts";
import { issueLeaf, newClusterCA, toPemPair } from "../../core/pki/issue.ts";
import { privateKeyPem } from "../../core/pki/keys.ts";
import { certificatePem, checkIssuedBy, loadCertificate } from "../../core/pki/x509.ts";
import { Trustd } from "../trustd/server.ts";
import { ApiCertificates } from "./apicerts.ts";
import { eventually } from "../../test/lib/eventually.ts";
import { trustdTargets } from "./joincert.ts";
import type { ApiCertStatusSpec } from "./resources.ts";

const TOKEN = "abcdef.0123456789abcdef";
const ca = newClusterCA();
const dir = mkdtempSync(join(tmpdir(), "bunker-joincert-"));
const server = new GrpcServer();
/** The common names of the certificates registered with the first control plane. */
const registered: string[] = [];
const trustd = new Trustd({ secrets: { ca: toPemPair(ca), token: TOKEN, reserved: [], hostname: "cp", sans: [] }, onRegistered: (r) => registered.push(r.commonName) });
server.handle(SecurityService.Certificate, trustd.certificate);
server.handle(SecurityService.Register, trustd.register);
const serving = issueLeaf(ca, { commonName: "cp", sans: ["127.0.0.1", "127.0.0.2"], lifetime: 3600_000, usage: ["serverAuth"] });
const { port } = await server.listenTls({ host: "127.0.0.1", port: 0, cert: certificatePem(serving.certificate), key: privateKeyPem(serving.key), requireClientCert: false });
afterAll(async () => { await server.close(); rmSync(dir, { recursive: true, force: true }); });

const b64 = (s: string) => Buffer.from(s).toString("base64");
const config = (token: string, endpointPort = port) => ({
  machine: { type: "worker", token, ca: { crt: b64(certificatePem(ca.certificate)) } },
  cluster: { controlPlane: { endpoint: `https://127.0.0.1:${endpointPort}` } },
});

/** The first value `f` gives that is not undefined, waiting (bounded) for it. */
async function until<T>(f: () => T | undefined, ms = 10_000): Promise<T> {
  let v: T | undefined;
  if (!(await eventually(() => (v = f()) !== undefined, ms))) throw new Error(`not within ${ms} ms`);
  return v!;
}

test("a worker serves self-signed at first, then the certificate trustd signed for its own key, and reloads apid", async () => {
  const statuses: ApiCertStatusSpec[] = [];
  let reloads = 0;
  const certs = new ApiCertificates({ dir: join(dir, "a"), addresses: () => ["127.0.0.1"], trustdPort: port, onStatus: (s) => statuses.push(s), onRenewed: () => reloads++ });
  try {
    expect(certs.issue(config(TOKEN), "worker-1")).toBe("worker");
    expect(statuses[0]).toMatchObject({ mode: "worker", signer: "self-signed" });
    await until(() => (reloads > 0 ? true : undefined));
    expect(statuses.at(-1)).toMatchObject({ signer: "trustd", from: `127.0.0.1:${port}` });
    const crt = loadCertificate(readFileSync(certs.path("cert"), "utf8"));
    expect(checkIssuedBy(crt, ca.certificate)).toEqual([]);
    expect(crt.extensions.altNames.dns).toContain("worker-1");
    // apid restarting (its pre-start issues again) keeps the signed certificate and asks nothing.
    certs.issue(config(TOKEN), "worker-1");
    expect(readFileSync(certs.path("cert"), "utf8")).toBe(certificatePem(crt));
  } finally {
    certs.stop();
  }
});

test("a wrong token: the status names the control plane and why, and the current certificate stays", async () => {
  const statuses: ApiCertStatusSpec[] = [];
  const certs = new ApiCertificates({ dir: join(dir, "b"), addresses: () => ["127.0.0.1"], trustdPort: port, retryMs: 50, retryMaxMs: 100, onStatus: (s) => statuses.push(s), onError: () => {} });
  try {
    certs.issue(config("abcdef.wrongwrongwrongw"), "worker-2");
    const before = readFileSync(certs.path("cert"), "utf8");
    const refused = await until(() => statuses.find((s) => s.error));
    expect(refused.error).toContain(`trustd at 127.0.0.1:${port}: UNAUTHENTICATED: wrong join token`);
    expect(refused.error).toContain("serving a self-signed certificate");
    expect(refused.error).not.toContain("wrongwrong");
    expect(readFileSync(certs.path("cert"), "utf8")).toBe(before);
  } finally {
    certs.stop();
  }
});

test("a control plane that is down when the worker registers lists it soon after it comes up, not a minute later", async () => {
  // The second control plane, 127.0.0.2 on the same port, is not listening yet.
  const cfg = { ...config(TOKEN), cluster: { controlPlane: { endpoint: `https://127.0.0.1:${port}`, nodes: ["127.0.0.2"] } } };
  const certs = new ApiCertificates({ dir: join(dir, "r"), addresses: () => ["127.0.0.1"], trustdPort: port, retryMs: 50, registerEveryMs: 60_000, onError: () => {} });
  const second = new GrpcServer();
  const seenBySecond: string[] = [];
  const trustd2 = new Trustd({ secrets: { ca: toPemPair(ca), token: TOKEN, reserved: [], hostname: "cp2", sans: [] }, onRegistered: (r) => seenBySecond.push(r.peer) });
  second.handle(SecurityService.Register, trustd2.register);
  try {
    certs.issue(cfg, "worker-3");
    // Joined through the first; its round of registrations has reached the first (and failed at the second).
    await until(() => (registered.includes("worker-3") ? true : undefined));
    await second.listenTls({ host: "127.0.0.2", port, cert: certificatePem(serving.certificate), key: privateKeyPem(serving.key), requireClientCert: false });
    // Within seconds: the next round comes at the doubling retry, not at the minute's period.
    await until(() => (seenBySecond.length > 0 ? true : undefined), 10_000);
    expect(seenBySecond[0]).toBe("127.0.0.1");
  } finally {
    certs.stop();
    await second.close();
  }
}, 20_000);

test("trustd targets: the endpoint's address first, then each listed control plane, each once", async () => {
  expect(await trustdTargets("https://10.5.0.2:50000", 50001, ["10.5.0.2", "10.5.0.3", "fd00::4"])).toEqual([
    { address: "10.5.0.2:50001" }, { address: "10.5.0.3:50001" }, { address: "[fd00::4]:50001" },
  ]);
  expect(await trustdTargets(undefined, 50001, ["10.5.0.3"])).toEqual([{ address: "10.5.0.3:50001" }]);
  expect(await trustdTargets("not a url", 50001)).toEqual([]);
});
