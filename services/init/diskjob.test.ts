import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadSigningKey, generateSigningKey } from "../../core/image/manifest.ts";
import { ManualClock } from "../../core/time/clock.ts";
import { DiskJobError, runDiskJob } from "./diskjob.ts";

const dir = mkdtempSync(join(tmpdir(), "bunker-diskjob-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("a child that runs past its timeout on the clock is killed, and the error says so", async () => {
  // The boot medium is a FIFO no one writes: the child blocks opening it, as on a hung device.
  const medium = join(dir, "medium");
  Bun.spawnSync(["mkfifo", medium]);
  const key = loadSigningKey(generateSigningKey()).publicKey.export({ type: "spki", format: "pem" }).toString();
  const clock = new ManualClock();
  let pid = 0;
  const job = runDiskJob(
    { kind: "install", disk: join(dir, "disk"), wipe: false, image: join(dir, "image"), key, scratch: dir, medium },
    { progress: () => {}, timeoutMs: 60_000, clock, started: (p) => { pid = p; } },
  ).catch((e: unknown) => e);
  expect(clock.pending()).toEqual([60_000]);
  clock.advance(60_000);
  const err = await job;
  expect(err).toBeInstanceOf(DiskJobError);
  expect((err as Error).message).toBe(`the install child (pid ${pid}) was killed: it ran longer than 60000 ms`);
  expect(clock.pending()).toEqual([]);
}, 20_000);
