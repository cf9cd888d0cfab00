import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigCheckError, loadConfig, loadConfigOffThread, MAX_CONFIG_BYTES } from "./config.ts";

const sample = readFileSync(join(import.meta.dir, "testdata/controlplane.yaml"), "utf8");
/** A slow document for the yaml package, under the cap: a long flow list of anchors and aliases. */
const slow = `a: [${Array.from({ length: 20_000 }, (_, i) => `&a${i} 1`).join(",")}]\n`;

test("off the thread, a config loads as it does in-process", async () => {
  expect(await loadConfigOffThread(sample, { mode: "metal" })).toEqual(loadConfig(sample, { mode: "metal" }));
  const bad = sample.replace("type: controlplane", "type: boss");
  expect(await loadConfigOffThread(bad)).toEqual(loadConfig(bad));
});

test("the caller's event loop keeps turning while a slow document is checked", async () => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const r = await loadConfigOffThread(slow);
  clearInterval(timer);
  expect(r.config).toBeUndefined();
  expect(ticks).toBeGreaterThan(0);
});

test("a check that runs past its time is terminated and refused", async () => {
  const err = await loadConfigOffThread(slow, {}, { timeoutMs: 1 }).catch((e) => e);
  expect(err).toBeInstanceOf(ConfigCheckError);
  expect(err.reason).toBe("timeout");
  expect(err.message).toBe("checking the config took longer than 0.001 s of CPU: refused");
  // The next one runs normally.
  expect((await loadConfigOffThread(sample)).config).toBeDefined();
});

test("the Worker's own start-up does not count against the check's time, but is bounded too", async () => {
  // A checker that takes 1.5 s to start, under a 1 s bound that checking this small file meets.
  const worker = join(import.meta.dir, "testdata/slow-start-worker.ts");
  expect((await loadConfigOffThread(sample, { mode: "metal" }, { timeoutMs: 1000, worker })).config).toBeDefined();
  const err = await loadConfigOffThread(sample, {}, { startupMs: 500, worker }).catch((e) => e);
  expect(err).toBeInstanceOf(ConfigCheckError);
  expect(err.message).toBe("the config checker did not start within 0.5 s");
});

test("the bound is the checker's CPU time: a check that waits for a CPU passes, within the wall-clock bound", async () => {
  // 1.5 s asleep before a document that takes milliseconds: over a 1 s bound in wall time only.
  const worker = join(import.meta.dir, "testdata/idle-worker.ts");
  expect((await loadConfigOffThread(sample, { mode: "metal" }, { timeoutMs: 1000, worker })).config).toBeDefined();
  const err = await loadConfigOffThread(sample, {}, { timeoutMs: 1000, wallMs: 1000, worker }).catch((e) => e);
  expect(err).toBeInstanceOf(ConfigCheckError);
  expect(err.reason).toBe("timeout");
  expect(err.message).toBe("checking the config took longer than 1 s: refused");
});

test("checks run one at a time; past the waiting room, callers are told it is busy", async () => {
  const runs = Array.from({ length: 4 }, () => loadConfigOffThread(slow, {}, { maxWaiting: 2 }).then(() => "done", (e) => (e as ConfigCheckError).reason));
  expect(await Promise.all(runs)).toEqual(["done", "done", "done", "busy"]);
  // Three slow checks in a row: on a loaded machine that is more than bun's 5 s default.
}, 60_000);

test("a config over the cap is refused without starting a Worker", async () => {
  const r = await loadConfigOffThread("#" + "x".repeat(MAX_CONFIG_BYTES));
  expect(r.errors.map((e) => e.message)).toEqual([`the config is ${MAX_CONFIG_BYTES + 1} bytes, over the limit of ${MAX_CONFIG_BYTES} bytes (256 KiB)`]);
});
