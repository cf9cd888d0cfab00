/**
 * ApplyConfiguration's retry while the node is busy, against a real TLS gRPC server: the node of
 * this version says so with the reason "busy"; a node of an earlier version sent UNAVAILABLE with
 * no reason for the same state, and is asked again the same way. Other refusals are not retried.
 */
import { afterEach, expect, test } from "bun:test";
import { MachineService as M } from "../../../core/api/gen/services.ts";
import { REASON } from "../../../core/errors.ts";
import { GrpcServer } from "../../../core/grpc/server.ts";
import { GrpcError, REASON_KEY, Status, statusName } from "../../../core/grpc/status.ts";
import { issueLeaf, newClusterCA, toPemPair } from "../../../core/pki/issue.ts";
import { Api, busy } from "./api.ts";

let server: GrpcServer | undefined;
let api: Api | undefined;
afterEach(async () => {
  api?.close();
  await server?.close();
});

/** A node whose first `refusals` applies fail with `error`; returns how many applies it saw. */
async function node(refusals: number, error: () => GrpcError): Promise<{ endpoint: string; calls: () => number }> {
  let calls = 0;
  server = new GrpcServer();
  server.handle(M.Version, () => ({}));
  server.handle(M.ApplyConfiguration, () => {
    calls++;
    if (calls <= refusals) throw error();
    return {};
  });
  const pair = toPemPair(issueLeaf(newClusterCA(), { commonName: "node", sans: ["127.0.0.1"], lifetime: 3_600_000, usage: ["serverAuth"] }));
  const { port } = await server.listenTls({ host: "127.0.0.1", port: 0, cert: pair.crt, key: pair.key, requireClientCert: false });
  return { endpoint: `127.0.0.1:${port}`, calls: () => calls };
}

async function apply(endpoint: string): Promise<string> {
  api = new Api({ context: "", configPath: undefined, endpoints: [endpoint], nodes: [], insecure: true }, 10_000);
  try {
    await api.apply({ data: Buffer.from("version: v1alpha1\n") }, { label: endpoint, endpoints: [endpoint] });
    return "OK";
  } catch (e) {
    return e instanceof GrpcError ? `${statusName(e.code)}: ${e.details}` : String(e);
  }
}

const busyNow = () => new GrpcError(Status.UNAVAILABLE, "busy: apply-config in progress", { [REASON_KEY]: REASON.busy });
const cases: [what: string, refusals: number, error: () => GrpcError, answer: string, calls: number][] = [
  ["busy with its reason: asked again until the node takes it", 2, busyNow, "OK", 3],
  ["an earlier node's busy (UNAVAILABLE with no reason): asked again the same way", 2, () => new GrpcError(Status.UNAVAILABLE, "busy: other configs are being checked; try again"), "OK", 3],
  ["UNAVAILABLE with another reason is not asked again", 1, () => new GrpcError(Status.UNAVAILABLE, "node-2: no route", { [REASON_KEY]: REASON.unreachable }), "UNAVAILABLE: node-2: no route", 1],
  ["another code is not asked again", 1, () => new GrpcError(Status.INVALID_ARGUMENT, "config.yaml:1:1: bad"), "INVALID_ARGUMENT: config.yaml:1:1: bad", 1],
  ["a node that stays busy: five tries, then its answer", 99, busyNow, "UNAVAILABLE: busy: apply-config in progress", 5],
];
for (const [what, refusals, error, answer, calls] of cases) {
  test(what, async () => {
    const n = await node(refusals, error);
    expect(await apply(n.endpoint)).toBe(answer);
    expect(n.calls()).toBe(calls);
  }, 20_000);
}

test("a connection that failed or closed on the client's side is no busy answer, with or without a reason", () => {
  const unavailable = (connection?: ConstructorParameters<typeof GrpcError>[3]) => new GrpcError(Status.UNAVAILABLE, "connection closed", {}, connection);
  expect(busy(unavailable())).toBe(true);
  expect(busy(unavailable({ beforeHandshake: true }))).toBe(false);
  expect(busy(unavailable({ beforeHandshake: false, closedDuringCall: true }))).toBe(false);
  expect(busy(unavailable({ beforeHandshake: false, refusedAfterHandshake: true }))).toBe(false);
  expect(busy(new GrpcError(Status.INTERNAL, "x"))).toBe(false);
});
