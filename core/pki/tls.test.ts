// A real mutual-TLS 1.3 handshake on loopback with the Ed25519 certificates we issue.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect, createServer, type Server, type TLSSocket } from "node:tls";
import type { AddressInfo } from "node:net";
import { issueAdminCert, issueNodeServerCert, newClusterCA, toPemPair, type PemPair } from "./issue.ts";

let server: Server;
let port: number;
let caPem: string;
let admin: PemPair;
let rogueAdmin: PemPair;
let rogueServerCa: string;
const seenRoles: string[] = [];

beforeAll(async () => {
  const ca = newClusterCA();
  caPem = toPemPair(ca).crt;
  const srv = toPemPair(issueNodeServerCert(ca, { hostname: "node1", sans: ["127.0.0.1"] }));
  admin = toPemPair(issueAdminCert(ca));
  const rogue = newClusterCA();
  rogueAdmin = toPemPair(issueAdminCert(rogue));
  rogueServerCa = toPemPair(rogue).crt;
  server = createServer({ key: srv.key, cert: srv.crt, ca: caPem, requestCert: true, rejectUnauthorized: true, minVersion: "TLSv1.3" }, (s) => {
    const o = s.getPeerCertificate().subject?.O;
    seenRoles.push(...(Array.isArray(o) ? o : o ? [o] : []));
    s.end("hello\n");
  });
  server.on("tlsClientError", () => {}); // rejected handshakes are what some tests expect
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => server.close());

/** Connects and reads until the server closes; resolves with what came or the error. */
function dial(client: PemPair, ca: string): Promise<{ ok: boolean; data: string; error?: string; authorized?: boolean }> {
  return new Promise((resolve) => {
    let data = "";
    let s: TLSSocket;
    const timer = setTimeout(() => { s.destroy(); resolve({ ok: false, data, error: "timeout" }); }, 5000);
    s = connect({ host: "127.0.0.1", port, servername: "node1", ca, key: client.key, cert: client.crt, rejectUnauthorized: true }, () => {});
    s.on("data", (d) => (data += d.toString()));
    s.on("end", () => { clearTimeout(timer); resolve({ ok: data === "hello\n", data, authorized: s.authorized }); });
    s.on("error", (e) => { clearTimeout(timer); resolve({ ok: false, data, error: e.message }); });
  });
}

test("mutual TLS with our Ed25519 server and admin certificates succeeds, and the server sees O=os:admin", async () => {
  const r = await dial(admin, caPem);
  expect(r).toEqual({ ok: true, data: "hello\n", authorized: true });
  expect(seenRoles).toContain("os:admin");
}, 15_000);

test("a client certificate from another CA is refused", async () => {
  const before = seenRoles.length;
  const r = await dial(rogueAdmin, caPem);
  expect(r.ok).toBe(false);
  expect(seenRoles.length).toBe(before);
}, 15_000);

test("a client that trusts another CA refuses our server", async () => {
  const r = await dial(admin, rogueServerCa);
  expect(r.ok).toBe(false);
  expect(r.error ?? "").toMatch(/certificate|verify|issuer/i);
}, 15_000);
