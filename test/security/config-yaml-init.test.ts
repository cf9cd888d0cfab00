/**
 * Security (issue 10, finding 3), against the compiled binary's init in container mode: a hostile
 * ApplyConfiguration dry-run must not hold PID 1's event loop. Before the fix, init parsed the
 * text on its event loop: a 1 MB document stalled its API for over 15 s; at the 256 KiB cap the
 * yaml package alone still takes hundreds of milliseconds. Now a body over the cap is refused
 * before decoding and the rest is checked in a Worker, so other calls answer meanwhile.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { MachineService } from "../../core/api/gen/services.ts";
import { MAX_CONFIG_BYTES } from "../../core/config/config.ts";
import { fixture } from "../../core/config/testdata/fixtures.ts";
import { GrpcError, Status } from "../../core/grpc/status.ts";
import { initClient } from "../../services/init/api/client.ts";
import { hostileConfigs } from "../../bench/config-hostile.ts";
import { eventually } from "../lib/eventually.ts";

const bin = resolve(import.meta.dir, "../../out/bunker");
const dir = mkdtempSync(join(tmpdir(), "bunker-yaml-init-"));
let proc: Bun.Subprocess<"ignore", "ignore", "pipe">;
let client: ReturnType<typeof initClient>;

beforeAll(async () => {
  const cfg = join(dir, "worker.yaml");
  writeFileSync(cfg, fixture("worker.yaml"));
  proc = Bun.spawn([bin, "init", "--mode=container", "--state-dir", join(dir, "state"), "--no-table", "--config", cfg], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const sock = join(dir, "state", "init.sock");
  if (!(await eventually(() => existsSync(sock), 10_000))) throw new Error(`init did not open ${sock}`);
  client = initClient(sock);
  // Answers once the API is up (bounded).
  const c = client;
  await eventually(async () => { await c.unary(MachineService.Version, {}, { timeoutMs: 2000 }); return true; }, 10_000);
}, 30_000);

afterAll(() => {
  client?.close();
  proc?.kill(9);
  rmSync(dir, { recursive: true, force: true });
});

const dryRun = (text: string) => client.unary(MachineService.ApplyConfiguration, { data: new TextEncoder().encode(text), dryRun: true }, { timeoutMs: 60_000 });

test("a 1 MB dry-run is refused at once, naming the cap", async () => {
  const text = hostileConfigs["flow list of short scalars"]!().repeat(4);
  const err = await dryRun(text).catch((e) => e);
  expect(err).toBeInstanceOf(GrpcError);
  expect(err.code).toBe(Status.INVALID_ARGUMENT);
  expect(err.details).toBe(`the config is ${Buffer.byteLength(text)} bytes, over the limit of ${MAX_CONFIG_BYTES} bytes (256 KiB)`);
}, 30_000);

test("while a hostile dry-run at the cap is checked, init answers other calls", async () => {
  const text = hostileConfigs["flow maps in a block list"]!();
  const t0 = performance.now();
  let done = 0;
  const pending = dryRun(text).then((ok) => ok, (e) => e).finally(() => { done = performance.now(); });
  // Version calls one after another until the dry-run answers (bounded in count).
  const latencies: number[] = [];
  for (let i = 0; i < 2000 && !done; i++) {
    const s = performance.now();
    await client.unary(MachineService.Version, {}, { timeoutMs: 60_000 });
    latencies.push(performance.now() - s); // each call started before the dry-run answered
  }
  const err = await pending;
  const took = done - t0;
  expect(err).toBeInstanceOf(GrpcError);
  expect(err.code).toBe(Status.INVALID_ARGUMENT);
  expect(err.details).toContain("the document expands to more than 20000 nodes");
  // Relative, not a wall-clock limit: answers kept coming while the check ran, none waited for it.
  expect(latencies.length).toBeGreaterThan(1);
  expect(Math.max(...latencies)).toBeLessThan(took / 2);
}, 60_000);

test("a good config's dry-run is checked the same way and answers", async () => {
  const r = await dryRun(fixture("worker.yaml").replace("  network:\n", "  network:\n    hostname: node9\n"));
  expect(r.message).toMatch(/^dry run: \d+ change\(s\), mode /);
  expect((r.changes ?? []).map((c) => c.path)).toContain("machine.network.hostname");
}, 30_000);
