/**
 * The one mapping of errors to gRPC status (statusOf), seen by a real client through a real
 * server: each code of core/errors.ts arrives as its status with its message; an untyped error
 * arrives as INTERNAL with a fixed text, and its own text goes to the server's onError only.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MachineService as M } from "../api/gen/services.ts";
import { BunkerError, REASON, type ErrorCode } from "../errors.ts";
import { rejection } from "../../test/lib/rejection.ts";
import { eventually } from "../../test/lib/fixture-server.ts";
import { GrpcClient } from "./client.ts";
import { GrpcServer } from "./server.ts";
import { closedDuringCall, GrpcError, INTERNAL_MESSAGE, notReached, reasonOf, Status, statusName } from "./status.ts";

const CODES: Record<ErrorCode, keyof typeof Status> = {
  invalid_argument: "INVALID_ARGUMENT", not_found: "NOT_FOUND", already_exists: "ALREADY_EXISTS",
  failed_precondition: "FAILED_PRECONDITION", aborted: "ABORTED", permission_denied: "PERMISSION_DENIED",
  unavailable: "UNAVAILABLE", deadline_exceeded: "DEADLINE_EXCEEDED", resource_exhausted: "RESOURCE_EXHAUSTED",
  unimplemented: "UNIMPLEMENTED", internal: "INTERNAL",
};

const dir = mkdtempSync(join(tmpdir(), "bunker-status-"));
const sock = join(dir, "api.sock");
const logged: string[] = [];
const server = new GrpcServer({ onError: (err, where) => logged.push(`${where}: ${err.message}`) });
let client: GrpcClient;
// What the handlers throw, set by each test.
let thrown: unknown;
server.handle(M.Hostname, () => { throw thrown; });
server.handle(M.Logs, async function* () {
  yield { message: "first" };
  throw thrown;
});

beforeAll(async () => {
  await server.listenUnix(sock);
  client = GrpcClient.unix(sock);
});
afterAll(async () => {
  client.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

test("every code of the taxonomy reaches the client as its status, with its message", async () => {
  for (const [code, status] of Object.entries(CODES) as [ErrorCode, keyof typeof Status][]) {
    thrown = new BunkerError(code, `the ${code} case`);
    const e = await rejection(client.unary(M.Hostname, {}));
    expect(e).toBeInstanceOf(GrpcError);
    expect([statusName((e as unknown as GrpcError).code), (e as unknown as GrpcError).details]).toEqual([status, `the ${code} case`]);
  }
});

test("a subclass keeps the code its throw site gave it", async () => {
  class NoSuchThing extends BunkerError {
    constructor() { super("not_found", "thing 7: not there"); }
  }
  thrown = new NoSuchThing();
  const e = (await rejection(client.unary(M.Hostname, {}))) as unknown as GrpcError;
  expect([e.code, e.details]).toEqual([Status.NOT_FOUND, "thing 7: not there"]);
});

test("an untyped error is INTERNAL, its text (which may hold a secret) only in the server's log", async () => {
  thrown = new Error("could not parse token=s3cr3t-t0ken: not found");
  const e = (await rejection(client.unary(M.Hostname, {}))) as unknown as GrpcError;
  expect([e.code, e.details]).toEqual([Status.INTERNAL, INTERNAL_MESSAGE]);
  expect(e.message).not.toContain("s3cr3t");
  expect(await eventually(() => logged.some((l) => l.includes("s3cr3t-t0ken")))).toBe(true);
  expect(logged.find((l) => l.includes("s3cr3t-t0ken"))).toStartWith(`call ${M.Hostname.path}: `);

  // A thrown non-Error too, and in the middle of a stream.
  thrown = "plain string with key=abc";
  const got: string[] = [];
  const s = await rejection((async () => { for await (const m of client.stream(M.Logs, {})) got.push(m.message ?? ""); })());
  expect(got).toEqual(["first"]);
  expect([(s as unknown as GrpcError).code, (s as unknown as GrpcError).details]).toEqual([Status.INTERNAL, INTERNAL_MESSAGE]);
});

test("a GrpcError passes as it is", async () => {
  thrown = new GrpcError(Status.RESOURCE_EXHAUSTED, "too many");
  const e = (await rejection(client.unary(M.Hostname, {}))) as unknown as GrpcError;
  expect([e.code, e.details]).toEqual([Status.RESOURCE_EXHAUSTED, "too many"]);
});

test("a reason travels beside the status, in a stream too; a relayed GrpcError keeps its trailers", async () => {
  thrown = new BunkerError("unavailable", "busy: boot in progress", { reason: REASON.busy });
  const e = (await rejection(client.unary(M.Hostname, {}))) as unknown as GrpcError;
  expect([e.code, reasonOf(e)]).toEqual([Status.UNAVAILABLE, REASON.busy]);
  const s = await rejection((async () => { for await (const _ of client.stream(M.Logs, {})) { /* first */ } })());
  expect(reasonOf(s)).toBe(REASON.busy);
  // What a gateway does: it throws what its backend answered, metadata and all.
  thrown = e;
  expect(reasonOf(await rejection(client.unary(M.Hostname, {})))).toBe(REASON.busy);
  thrown = new BunkerError("unavailable", "no reason");
  expect(reasonOf(await rejection(client.unary(M.Hostname, {})))).toBeUndefined();
});

test("a connection that fails says so in its fields, not only in its text", async () => {
  const nobody = GrpcClient.unix(join(dir, "nobody.sock"));
  try {
    const e = (await rejection(nobody.unary(M.Hostname, {}))) as unknown as GrpcError;
    expect(e.code).toBe(Status.UNAVAILABLE);
    expect(e.connection).toBeDefined();
    expect(notReached(e)).toBe(true);
    expect(closedDuringCall(e)).toBe(false);
  } finally {
    nobody.close();
  }
  // A status the server sent is no connection failure.
  thrown = new BunkerError("unavailable", "down for now");
  const e = await rejection(client.unary(M.Hostname, {}));
  expect([notReached(e), closedDuringCall(e)]).toEqual([false, false]);
});
