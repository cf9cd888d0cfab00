/**
 * Finding 9 (roles): a client certificate's Subject O must name a role exactly. Before the fix,
 * O=" os:admin " (padded) was trimmed and counted as os:admin. Real mTLS through apid's gateway to
 * a stub init; the certificates are issued by core/pki from a cluster CA, which writes O verbatim.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { allMethods, MachineService as M } from "../../core/api/gen/services.ts";
import { GrpcClient } from "../../core/grpc/client.ts";
import type { Method } from "../../core/grpc/method.ts";
import { GrpcServer } from "../../core/grpc/server.ts";
import { GrpcError, statusName } from "../../core/grpc/status.ts";
import { issueLeaf, newClusterCA, toPemPair } from "../../core/pki/issue.ts";
import { Gateway } from "../../services/apid/gateway.ts";

const dir = mkdtempSync(join(tmpdir(), "bunker-roles-"));
const ca = newClusterCA();
const caPem = toPemPair(ca).crt;
const backend = new GrpcServer();
let gw: Gateway;
let port = 0;
/** Roles init was handed on the last call that reached it. */
let relayedRoles: string | undefined;

beforeAll(async () => {
  for (const m of allMethods.values()) {
    if (m.responseStream) backend.handle(m as Method<unknown, unknown, true>, async function* () { yield {}; });
    else backend.handle(m as Method<unknown, unknown, false>, (_req, ctx) => { relayedRoles = String(ctx.metadata["x-bunker-roles"]); return {}; });
  }
  await backend.listenUnix(join(dir, "init.sock"));
  const server = toPemPair(issueLeaf(ca, { commonName: "node", sans: ["127.0.0.1"], lifetime: 3_600_000, usage: ["serverAuth"] }));
  gw = new Gateway({ host: "127.0.0.1", port: 0, cert: server.crt, key: server.key, cas: [caPem], backend: join(dir, "init.sock"), onError: () => {} });
  port = (await gw.listen()).port;
});

afterAll(async () => {
  await gw?.close();
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
});

async function call(o: string[], m: Method<unknown, unknown, false>): Promise<string> {
  const pair = toPemPair(issueLeaf(ca, { commonName: "someone", roles: o, lifetime: 3_600_000, usage: ["clientAuth"] }));
  const c = GrpcClient.tls({ address: `127.0.0.1:${port}`, ca: caPem, cert: pair.crt, key: pair.key });
  relayedRoles = undefined;
  try {
    await c.unary(m, {}, { timeoutMs: 10_000 });
    return "OK";
  } catch (e) {
    return e instanceof GrpcError ? statusName(e.code) : String(e);
  } finally {
    c.close();
  }
}

test("O=\" os:admin \" (padded) is no role: admin RPCs and reads are refused", async () => {
  for (const o of [" os:admin ", "os:admin ", "\tos:admin", "os:admin\n"]) {
    expect(await call([o], M.Reset as Method<unknown, unknown, false>)).toBe("PERMISSION_DENIED");
    expect(await call([o], M.Version as Method<unknown, unknown, false>)).toBe("PERMISSION_DENIED");
  }
});

test("a padded role next to a real one grants only the real one", async () => {
  expect(await call([" os:admin ", "os:reader"], M.Reset as Method<unknown, unknown, false>)).toBe("PERMISSION_DENIED");
  expect(await call([" os:admin ", "os:reader"], M.Version as Method<unknown, unknown, false>)).toBe("OK");
  expect(relayedRoles).toBe("os:reader");
});

test("the exact value still works", async () => {
  expect(await call(["os:admin"], M.Reset as Method<unknown, unknown, false>)).toBe("OK");
  expect(relayedRoles).toBe("os:admin");
});
