import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { acceptsWithin, startForwarder, type Provision } from "./container.ts";
import type { ClusterState } from "./state.ts";

const fake = join(import.meta.dir, "testdata/flaky-forwarder.ts");
const dirs: string[] = [];
const pids: number[] = [];

afterEach(() => {
  for (const pid of pids.splice(0)) try { process.kill(pid, "SIGKILL"); } catch { /* ended */ }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A provision whose "binary" is the stand-in forwarder, told to end `fails` times first. */
function provision(fails: number): { c: Provision; steps: string[] } {
  const dir = mkdtempSync(join(tmpdir(), "bunker-fwd-start-"));
  dirs.push(dir);
  writeFileSync(join(dir, "FAILS_LEFT"), String(fails));
  const state = { provisioner: "qemu", plan: { netns: "unused" }, createdAt: "", nodes: [] } as unknown as ClusterState;
  const steps: string[] = [];
  return { c: { dir, state, configs: {} as Provision["configs"], self: [process.execPath, fake, dir], step: (l) => steps.push(l) }, steps };
}
const nodes = [{ name: "cp1", address: "10.5.0.2" }, { name: "w1", address: "10.5.0.3" }];

test("a forwarder that ends before it listens (its port taken meanwhile) is started again on other ports", async () => {
  const { c, steps } = provision(1);
  await startForwarder(c, nodes);
  pids.push(c.state.forwarder!.pid!);
  expect(steps[0]).toMatch(/^the port forwarder ended before it listened \(forward: listen on 127\.0\.0\.1:\d+: EADDRINUSE\); starting it again on other ports$/);
  expect(steps[1]).toMatch(/^forwarding 127\.0\.0\.1:\d+ -> cp1, 127\.0\.0\.1:\d+ -> w1 \(pid \d+\)$/);
  for (const port of Object.values(c.state.forwarder!.ports)) expect(await acceptsWithin(port, 1000)).toBe(true);
});

test("one that keeps ending is given up after three starts, with what it said", async () => {
  const { c } = provision(5);
  const err = (await startForwarder(c, nodes).catch((e) => e)) as Error;
  expect(err).toBeInstanceOf(Error);
  expect(err.message).toMatch(/^the port forwarder \(pid \d+\) does not listen on 127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+ and has ended \(.*forward\.log: /);
  expect(err.message).toContain("EADDRINUSE");
  // Three starts, each of which ended: the stand-in counted them down from 5.
  expect(readFileSync(join(c.dir, "FAILS_LEFT"), "utf8")).toBe("2");
});

test("waiting for a port stops as soon as the process that should listen has ended", async () => {
  let asked = 0;
  expect(await acceptsWithin(1, 60_000, () => ++asked < 0)).toBe(false);
  expect(asked).toBe(1);
});
