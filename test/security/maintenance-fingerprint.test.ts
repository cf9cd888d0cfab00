/**
 * Security finding 10: in maintenance mode the node serves a self-signed certificate and
 * `bunkerctl --insecure` accepted any certificate, so whoever answered at the node's address got
 * the config (with the cluster CA key). Now init prints the certificate's SHA-256 fingerprint (of
 * the DER certificate, as openssl computes it) on the console, and `--insecure --fingerprint`
 * pins it: a server with another certificate is refused before any request is sent to it.
 *
 * Against a container-mode node in maintenance mode (the compiled binary, test/lib/container-node.ts)
 * and an impostor: a TLS HTTP/2 server with a self-signed certificate of its own that counts the
 * requests it receives.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http2 from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compactFingerprint, parseFingerprint } from "../../core/pki/fingerprint.ts";
import { freePort, generateCluster, startNode, type Node } from "../lib/container-node.ts";
import { ctl } from "../lib/remote-cluster.ts";
import { eventually } from "../lib/eventually.ts";

let node: Node | undefined;
let impostor: http2.Http2SecureServer | undefined;
let impostorPort = 0;
/** Requests (HTTP/2 streams) the impostor received. */
let impostorRequests = 0;
let work = "";
let stderr = "";
let cluster: ReturnType<typeof generateCluster> | undefined;

/** Collects a process's stderr into `stderr` as it comes. */
async function drain(stream: ReadableStream<Uint8Array>): Promise<void> {
  const d = new TextDecoder();
  for await (const chunk of stream) stderr += d.decode(chunk);
}

const LINE = /apid: maintenance certificate SHA-256 fingerprint ([0-9A-F:]{95}) \((SHA256:[A-Za-z0-9+/]{43})\)/g;

/** The fingerprints init logged so far, in order (the last one is the certificate served now). */
const logged = () => [...stderr.matchAll(LINE)].map((m) => ({ openssl: m[1]!, compact: m[2]! }));

/** openssl's fingerprint of the certificate served on 127.0.0.1:port: `AB:CD:...`. */
function opensslServed(port: number): string {
  const r = Bun.spawnSync(["sh", "-c", `openssl s_client -connect 127.0.0.1:${port} -alpn h2 </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256`], { timeout: 20_000 });
  const m = /Fingerprint=([0-9A-F:]+)/i.exec(r.stdout.toString());
  if (!m) throw new Error(`openssl printed no fingerprint: ${r.stdout.toString()} ${r.stderr.toString()}`);
  return m[1]!.toUpperCase();
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "sec-fingerprint-"));
  const port = await freePort();
  cluster = generateCluster(port);
  node = await startNode(port);
  void drain(node.proc.stderr);
  expect(await eventually(() => logged().length > 0, 10_000)).toBe(true);
  // The impostor: same protocol, its own self-signed certificate.
  const r = Bun.spawnSync(["openssl", "req", "-x509", "-newkey", "ed25519", "-nodes", "-days", "1", "-subj", "/CN=bunker", "-addext", "subjectAltName=IP:127.0.0.1",
    "-keyout", join(work, "imp.key"), "-out", join(work, "imp.crt")]);
  if (r.exitCode !== 0) throw new Error(`openssl req: ${r.stderr.toString()}`);
  impostor = http2.createSecureServer({ key: readFileSync(join(work, "imp.key")), cert: readFileSync(join(work, "imp.crt")), ALPNProtocols: ["h2"] });
  impostor.on("stream", (s: http2.ServerHttp2Stream) => {
    impostorRequests++;
    s.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
    s.on("wantTrailers", () => s.sendTrailers({ "grpc-status": "12", "grpc-message": "impostor" }));
    s.end();
  });
  impostorPort = await freePort();
  await new Promise<void>((res) => impostor!.listen(impostorPort, "127.0.0.1", () => res()));
}, 60_000);

afterAll(async () => {
  await node?.stop();
  await new Promise<void>((res) => (impostor ? impostor.close(() => res()) : res()));
  if (cluster) rmSync(cluster.dir, { recursive: true, force: true });
  if (work) rmSync(work, { recursive: true, force: true });
});

const ep = () => `127.0.0.1:${node!.port}`;

test("init logs the maintenance certificate's fingerprint, in both spellings, and it is openssl's of the certificate served", () => {
  const last = logged().at(-1);
  expect(last).toBeDefined();
  expect(opensslServed(node!.port)).toBe(last!.openssl);
  // The two spellings name the same digest.
  expect(parseFingerprint(last!.compact).equals(parseFingerprint(last!.openssl))).toBe(true);
  expect(compactFingerprint(parseFingerprint(last!.openssl))).toBe(last!.compact);
}, 30_000);

test("bunkerctl --insecure --fingerprint with the node's fingerprint works, in either spelling", async () => {
  const { compact, openssl } = logged().at(-1)!;
  for (const fp of [compact, openssl, openssl.toLowerCase().replace(/:/g, "")]) {
    const r = await ctl(undefined, "version", "--insecure", "--fingerprint", fp, "-e", ep(), "-o", "json");
    expect({ fp, code: r.code, err: r.err }).toEqual({ fp, code: 0, err: "" });
    expect(JSON.parse(r.out)[0].maintenance).toBe(true);
  }
}, 60_000);

test("a wrong fingerprint is refused (exit 5) and the node is sent nothing: it stays in maintenance", async () => {
  const wrong = compactFingerprint(Buffer.alloc(32, 7));
  const r = await ctl(undefined, "apply-config", "--insecure", "--fingerprint", wrong, "-e", ep(), "-f", cluster!.controlplane);
  expect(r.code).toBe(5);
  expect(r.err).toContain("the node's certificate is not the one --fingerprint names; nothing was sent to it");
  expect(r.err).toContain(logged().at(-1)!.openssl); // the one it presented, to compare with the console
  const v = await ctl(undefined, "version", "--insecure", "--fingerprint", logged().at(-1)!.compact, "-e", ep(), "-o", "json");
  expect(JSON.parse(v.out)[0].maintenance).toBe(true);
}, 60_000);

test("an impostor at the address gets no request (no config, no CA key) when the real fingerprint is pinned", async () => {
  const file = join(work, "controlplane.yaml");
  writeFileSync(file, readFileSync(cluster!.controlplane));
  impostorRequests = 0;
  const r = await ctl(undefined, "apply-config", "--insecure", "--fingerprint", logged().at(-1)!.compact, "-e", `127.0.0.1:${impostorPort}`, "-f", file);
  expect(r.code).toBe(5);
  expect(r.err).toContain("nothing was sent to it");
  expect(impostorRequests).toBe(0);
  // Without the pin (the old behaviour) the impostor receives the call: what the pin prevents.
  const open = await ctl(undefined, "version", "--insecure", "-e", `127.0.0.1:${impostorPort}`);
  expect(open.code).not.toBe(0);
  expect(impostorRequests).toBeGreaterThan(0);
}, 60_000);

test("--fingerprint needs --insecure, and a malformed one is a usage error (exit 2)", async () => {
  const a = await ctl(undefined, "version", "--fingerprint", logged().at(-1)!.compact, "-e", ep());
  expect(a.code).toBe(2);
  expect(a.err).toContain("use it with --insecure");
  const b = await ctl(undefined, "version", "--insecure", "--fingerprint", "SHA256:short", "-e", ep());
  expect(b.code).toBe(2);
  expect(b.err).toContain("expected SHA256:BASE64");
}, 30_000);
