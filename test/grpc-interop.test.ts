/**
 * Interoperability with an independent gRPC implementation: Debian's python3-grpcio, with stubs
 * generated from our .proto files. Python client -> our server over mTLS (Ed25519 PKI made by
 * openssl) and over the unix socket; our client -> a Python server over mTLS.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MachineService as M } from "../core/api/gen/services.ts";
import { GrpcClient } from "../core/grpc/client.ts";
import { GrpcError, statusName } from "../core/grpc/status.ts";
import { eventually, fixtureServer, type Observed } from "./lib/fixture-server.ts";
import { TestPki } from "./lib/pki.ts";
import { generateStubs, havePythonGrpc, PYTHON, interopDir, runPython } from "./lib/python-grpc.ts";

const have = havePythonGrpc();
if (!have) console.warn("grpc interop: skipped, python3-grpcio/python3-grpc-tools missing (scripts/deps.sh installs them)");

type Outcome = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let pki: TestPki;
let stubs: string;
beforeAll(() => {
  if (!have) return;
  pki = new TestPki();
  stubs = generateStubs();
});
afterAll(() => {
  pki?.remove();
  if (stubs) rmSync(stubs, { recursive: true, force: true });
});

/** Checks every scenario of test/interop/client.py against what our fixture server must answer. */
function expectClientOutcomes(out: Outcome) {
  expect(out.unary.version).toBe("1.2.3");
  // Metadata client -> server: text and -bin (bytes, base64 on the wire).
  expect(JSON.parse(out.unary.hostname)).toMatchObject({ "x-trace": "abc-123", "x-blob-bin": "0001feff" });
  // Metadata server -> client: initial and trailing.
  expect(out.unary.initial["x-served-by"]).toBe("bunker");
  expect(out.unary.trailing["x-count-bin"]).toBe("0102");
  expect(out.stream.lines).toEqual(["line 0", "line 1", "line 2", "line 3", "line 4"]);
  // Status and a non-ASCII message survive percent-encoding, from a stream and from a unary call.
  expect(out.error.error).toEqual({ code: "NOT_FOUND", details: "service «missing» not found" });
  expect(out.unary_error.error).toEqual({ code: "NOT_FOUND", details: "service «missing» not found" });
  expect(out.deadline.error.code).toBe("DEADLINE_EXCEEDED");
  expect(out.cancel.got).toEqual(["f0", "f1"]);
  expect(out.too_large.error.code).toBe("RESOURCE_EXHAUSTED");
  expect(out.too_large.error.details).toContain("larger than the limit of 4194304 bytes");
  expect(out.unimplemented.error.code).toBe("UNIMPLEMENTED");
  expect(out.after.version).toBe("1.2.3");
}

/** The server's work stopped: the deadline and the cancel fired the handlers' signals. */
async function expectWorkStopped(observed: Observed) {
  // The client also gives up at its deadline and resets the stream; whichever the server sees
  // first (its own grpc-timeout timer or the reset) is the reason.
  expect(await eventually(() => (observed.aborts.Hostname ?? []).length === 1)).toBe(true);
  expect(["DEADLINE_EXCEEDED", "CANCELLED"]).toContain(observed.aborts.Hostname![0]!);
  expect(await eventually(() => (observed.aborts.Logs ?? []).includes("CANCELLED"))).toBe(true);
  expect(observed.yieldedAfterAbort).toBe(0);
}

describe.skipIf(!have)("python3-grpcio client -> our server", () => {
  test("over mutual TLS (Ed25519): unary, stream, errors, deadline, cancel, metadata, size limit", async () => {
    const { server, observed } = fixtureServer();
    const sc = pki.server();
    const cc = pki.client("py-admin", { roles: ["os:admin"] });
    try {
      const addr = await server.listenTls({ host: "127.0.0.1", port: 0, key: sc.key, cert: sc.cert, ca: pki.ca.cert });
      const r = await runPython(stubs, "client.py", ["--target", `127.0.0.1:${addr.port}`, "--ca", pki.ca.certPath, "--cert", cc.certPath, "--key", cc.keyPath]);
      expect(r.stderr).toBe("");
      expect(r.exitCode).toBe(0);
      const out = JSON.parse(r.stdout) as Outcome;
      expectClientOutcomes(out);
      await expectWorkStopped(observed);
    } finally {
      await server.close();
    }
  }, 60_000);

  test("over the unix socket (h2c): the same scenarios", async () => {
    const { server, observed } = fixtureServer();
    const sock = join(tmpdir(), `bunker-interop-${process.pid}.sock`);
    try {
      await server.listenUnix(sock);
      const r = await runPython(stubs, "client.py", ["--target", `unix:${sock}`]);
      expect(r.stderr).toBe("");
      expect(r.exitCode).toBe(0);
      expectClientOutcomes(JSON.parse(r.stdout));
      await expectWorkStopped(observed);
    } finally {
      await server.close();
    }
  }, 60_000);

  test("a client without a certificate, or with one from another CA, is refused (UNAVAILABLE)", async () => {
    const { server } = fixtureServer({ onError: () => {} });
    const sc = pki.server();
    const rogue = new TestPki("rogue");
    try {
      const addr = await server.listenTls({ host: "127.0.0.1", port: 0, key: sc.key, cert: sc.cert, ca: pki.ca.cert });
      const target = `127.0.0.1:${addr.port}`;
      // No client certificate: pass the CA only (an empty --cert/--key).
      const noCert = await runPython(stubs, "client.py", ["--target", target, "--ca", pki.ca.certPath, "--only", "after"]);
      expect(JSON.parse(noCert.stdout).after.error.code).toBe("UNAVAILABLE");
      const rc = rogue.client("rogue-admin", { roles: ["os:admin"] });
      const wrongCa = await runPython(stubs, "client.py", ["--target", target, "--ca", pki.ca.certPath, "--cert", rc.certPath, "--key", rc.keyPath, "--only", "after"]);
      expect(JSON.parse(wrongCa.stdout).after.error.code).toBe("UNAVAILABLE");
    } finally {
      rogue.remove();
      await server.close();
    }
  }, 60_000);
});

describe.skipIf(!have)("our client -> python3-grpcio server over mutual TLS", () => {
  let proc: ReturnType<typeof Bun.spawn> | undefined;
  let client: GrpcClient;

  beforeAll(async () => {
    if (!have) return;
    const sc = pki.server("pyserver");
    const cc = pki.client("bun-admin", { roles: ["os:admin"] });
    proc = Bun.spawn([PYTHON, join(interopDir, "server.py"), "--ca", pki.ca.certPath, "--cert", sc.certPath, "--key", sc.keyPath], {
      env: { ...process.env, PYTHONPATH: stubs, GRPC_VERBOSITY: "NONE" }, stdin: "pipe", stdout: "pipe", stderr: "pipe",
    });
    const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
    let line = "";
    const deadline = Date.now() + 20_000;
    while (!line.includes("\n") && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      line += new TextDecoder().decode(value);
    }
    reader.releaseLock();
    const port = /PORT (\d+)/.exec(line)?.[1];
    if (!port) throw new Error(`python server did not start: ${line}`);
    client = GrpcClient.tls({ address: `127.0.0.1:${port}`, ca: pki.ca.cert, cert: cc.cert, key: cc.key });
  }, 30_000);

  afterAll(async () => {
    client?.close();
    if (proc) {
      (proc.stdin as import("bun").FileSink).end();
      proc.kill();
      await proc.exited;
    }
  });

  test("unary with metadata both ways", async () => {
    let initial: Record<string, unknown> = {};
    let trailing: Record<string, unknown> = {};
    const res = await client.unary(M.Version, {}, {
      timeoutMs: 10_000,
      metadata: { "x-trace": "t-1", "x-blob-bin": new Uint8Array([0, 255]) },
      onMetadata: (md) => { initial = md; },
      onTrailers: (md) => { trailing = md; },
    });
    expect(res.version).toBe("py-1");
    expect(JSON.parse(res.hostname ?? "{}")).toMatchObject({ "x-trace": "t-1", "x-blob-bin": "00ff" });
    expect(initial["x-served-by"]).toBe("python");
    expect(Buffer.from(trailing["x-count-bin"] as Uint8Array).toString("hex")).toBe("0102");
  });

  test("server streaming", async () => {
    const lines: string[] = [];
    for await (const e of client.stream(M.Logs, { id: "x", tail: 4 })) lines.push(e.message ?? "");
    expect(lines).toEqual(["line 0", "line 1", "line 2", "line 3"]);
  });

  test("an error status with a non-ASCII message", async () => {
    const err = await Array.fromAsync(client.stream(M.Logs, { id: "missing" })).catch((e) => e);
    expect(err).toBeInstanceOf(GrpcError);
    expect(statusName((err as GrpcError).code)).toBe("NOT_FOUND");
    expect((err as GrpcError).details).toBe("service «missing» not found");
  });

  test("deadline exceeded", async () => {
    const err = await client.unary(M.Hostname, {}, { timeoutMs: 300 }).catch((e) => e);
    expect(statusName((err as GrpcError).code)).toBe("DEADLINE_EXCEEDED");
  });

  test("leaving a stream early cancels it on the server", async () => {
    const got: string[] = [];
    for await (const e of client.stream(M.Logs, { id: "follow", follow: true })) {
      got.push(e.message ?? "");
      if (got.length === 3) break;
    }
    expect(got).toEqual(["f0", "f1", "f2"]);
    const seen = async () => Number((await client.unary(M.Reboot, {})).actorId);
    let n = 0;
    await eventually(async () => (n = await seen()) !== 0);
    expect(n).toBe(1);
  });

  test("a message over the server's 4 MiB limit gets RESOURCE_EXHAUSTED", async () => {
    const err = await client.unary(M.ApplyConfiguration, { data: new Uint8Array(5 * 1024 * 1024) }, { timeoutMs: 20_000 }).catch((e) => e);
    expect(statusName((err as GrpcError).code)).toBe("RESOURCE_EXHAUSTED");
  });

  test("an RPC the server does not implement gets UNIMPLEMENTED", async () => {
    const err = await client.unary(M.Upgrade, { image: "x" }).catch((e) => e);
    expect(statusName((err as GrpcError).code)).toBe("UNIMPLEMENTED");
  });
});
