import { afterAll, beforeAll, expect, test } from "bun:test";
import http2 from "node:http2";
import { MachineService } from "../api/gen/services.ts";
import { selfSigned } from "../../services/init/apicerts.ts";
import { certificateFingerprint } from "../pki/fingerprint.ts";
import { privateKeyPem } from "../pki/keys.ts";
import { certificatePem } from "../pki/x509.ts";
import { GrpcClient, PIN_MISMATCH } from "./client.ts";
import { GrpcError, Status } from "./status.ts";

const served = selfSigned("node", ["127.0.0.1"], 3_600_000);
let server: http2.Http2SecureServer;
let port = 0;
/** Requests (HTTP/2 streams) the server received. */
let requests = 0;

beforeAll(async () => {
  server = http2.createSecureServer({ key: privateKeyPem(served.key), cert: certificatePem(served.certificate), ALPNProtocols: ["h2"] });
  // Every call ends trailers-only with NOT_FOUND: a client that got it did send its request.
  server.on("stream", (s: http2.ServerHttp2Stream) => {
    requests++;
    s.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": String(Status.NOT_FOUND), "grpc-message": "reached" }, { endStream: true });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  port = (server.address() as { port: number }).port;
});
afterAll(() => { server.close(); });

async function call(pin: Uint8Array): Promise<GrpcError> {
  const c = GrpcClient.tls({ address: `127.0.0.1:${port}`, insecure: true, pinSha256: pin });
  try {
    await c.unary(MachineService.Version, {}, { timeoutMs: 10_000 });
    throw new Error("expected the call to fail");
  } catch (e) {
    if (!(e instanceof GrpcError)) throw e;
    return e;
  } finally {
    c.close();
  }
}

test("the pinned certificate: the request goes out (twice on one connection)", async () => {
  requests = 0;
  const c = GrpcClient.tls({ address: `127.0.0.1:${port}`, insecure: true, pinSha256: certificateFingerprint(served.certificate.der) });
  try {
    for (let i = 0; i < 2; i++) {
      const err = await c.unary(MachineService.Version, {}, { timeoutMs: 10_000 }).catch((e: GrpcError) => e);
      expect((err as GrpcError).details).toBe("reached");
    }
  } finally {
    c.close();
  }
  expect(requests).toBe(2);
});

test("another certificate: UNAVAILABLE naming both fingerprints, and the server received no request", async () => {
  requests = 0;
  const err = await call(Buffer.alloc(32, 9));
  expect(err.code).toBe(Status.UNAVAILABLE);
  expect(err.details).toStartWith(PIN_MISMATCH);
  expect(err.details).toContain(`the pinned one ${"09:".repeat(31)}09`);
  expect(requests).toBe(0);
});

test("a pin that is not a SHA-256 digest is refused up front", () => {
  expect(() => GrpcClient.tls({ address: "127.0.0.1:1", insecure: true, pinSha256: new Uint8Array(20) })).toThrow("a SHA-256 digest has 32 bytes, got 20");
});

test("nothing listening: the connection error, not a pin mismatch", async () => {
  const err = await (async () => {
    const c = GrpcClient.tls({ address: "127.0.0.1:9", insecure: true, pinSha256: Buffer.alloc(32) });
    try { await c.unary(MachineService.Version, {}, { timeoutMs: 5_000 }); return undefined; } catch (e) { return e as GrpcError; } finally { c.close(); }
  })();
  expect(err?.code).toBe(Status.UNAVAILABLE);
  expect(err?.details).not.toContain(PIN_MISMATCH);
  expect(err?.details).toMatch(/ECONNREFUSED|connection failed/);
});
