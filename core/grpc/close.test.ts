/** Closing a server: at once (calls cancelled), or with a grace in which calls under way finish. */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MachineService as M } from "../api/gen/services.ts";
import { eventually, sleep } from "../../test/lib/fixture-server.ts";
import { rejection } from "../../test/lib/rejection.ts";
import { GrpcClient } from "./client.ts";
import { GrpcServer } from "./server.ts";
import { Status } from "./status.ts";

const dir = mkdtempSync(join(tmpdir(), "bunker-grpc-close-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A server whose Hostname answers after 300 ms (the handler's own work, so a close can find it under
 * way) and whose Logs never ends on its own; `started` counts the Hostname calls that reached it.
 */
async function slowServer(name: string): Promise<{ server: GrpcServer; client: GrpcClient; started: () => number }> {
  const server = new GrpcServer();
  let started = 0;
  server.handle(M.Hostname, async (_req, ctx) => {
    started++;
    await sleep(300, ctx.signal);
    if (ctx.signal.aborted) throw ctx.signal.reason;
    return { hostname: "answered" };
  });
  server.handle(M.Logs, async function* (_req, ctx) {
    for (let i = 0; i < 10_000 && !ctx.signal.aborted; i++) {
      yield { message: `line ${i}` };
      await sleep(20, ctx.signal);
    }
  });
  const sock = join(dir, `${name}.sock`);
  await server.listenUnix(sock);
  return { server, client: GrpcClient.unix(sock), started: () => started };
}

test("with a grace, a call under way still gets its answer; an endless stream is cut when the grace ends; no new call gets in", async () => {
  const { server, client, started } = await slowServer("grace");
  try {
    const answer = client.unary(M.Hostname, {});
    const lines: string[] = [];
    const follow = (async () => { for await (const e of client.stream(M.Logs, {})) lines.push(e.message ?? ""); })();
    expect(await eventually(() => started() === 1 && lines.length > 0)).toBe(true);
    const closed = server.close(1500);
    expect((await answer).hostname).toBe("answered");
    expect(await rejection(follow)).toMatchObject({ code: Status.UNAVAILABLE });
    expect(lines.length).toBeGreaterThan(0);
    await closed;
    expect(await rejection(client.unary(M.Hostname, {}))).toMatchObject({ code: Status.UNAVAILABLE });
  } finally {
    client.close();
  }
});

test("without a grace, a call under way is cancelled", async () => {
  const { server, client, started } = await slowServer("now");
  try {
    const answer = client.unary(M.Hostname, {});
    expect(await eventually(() => started() === 1)).toBe(true);
    await server.close();
    expect(await rejection(answer)).toMatchObject({ code: Status.UNAVAILABLE });
  } finally {
    client.close();
  }
});
