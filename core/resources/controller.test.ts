import { expect, test } from "bun:test";
import { Store } from "./store.ts";
import { ControllerRuntime } from "./controller.ts";
import { ManualClock } from "../time/clock.ts";
import { eventually } from "../../test/lib/eventually.ts";

const input = { namespace: "config", type: "Inputs.test.bunker.dev" };
const output = { namespace: "runtime", type: "Outputs.test.bunker.dev" };

test("a controller runs at start, re-runs when an input changes, and owns its outputs", async () => {
  const s = new Store();
  const rt = new ControllerRuntime(s);
  let runs = 0;
  rt.register({
    name: "double", inputs: [input], outputs: [output.type],
    reconcile(ctx) {
      runs++;
      const keep: string[] = [];
      for (const r of ctx.list<{ n: number }>(input)) {
        ctx.modify<{ n: number }>({ ...output, id: r.metadata.id }, () => ({ n: r.spec.n * 2 }));
        keep.push(r.metadata.id);
      }
      ctx.cleanup(output, keep);
    },
  });
  await rt.idle();
  expect(runs).toBe(1);
  s.create({ ...input, id: "a" }, { n: 2 });
  await rt.idle();
  expect(s.get<{ n: number }>({ ...output, id: "a" })!.spec.n).toBe(4);
  expect(s.get({ ...output, id: "a" })!.metadata.owner).toBe("double");
  s.update({ ...input, id: "a" }, { n: 5 });
  await rt.idle();
  expect(s.get<{ n: number }>({ ...output, id: "a" })!.spec.n).toBe(10);
  s.destroy({ ...input, id: "a" });
  await rt.idle();
  expect(s.get({ ...output, id: "a" })).toBeUndefined();
  rt.stop();
});

test("writing a type that is not an output fails the run", async () => {
  const s = new Store();
  const errors: string[] = [];
  const rt = new ControllerRuntime(s, { backoffBaseMs: 60_000, onError: (_n, e) => errors.push((e as Error).message) });
  rt.register({ name: "bad", inputs: [], outputs: [output.type], reconcile(ctx) { ctx.modify({ ...input, id: "x" }, () => ({})); } });
  await rt.idle();
  expect(errors[0]).toContain("is not one of its outputs");
  expect(s.get({ ...input, id: "x" })).toBeUndefined();
  rt.stop();
});

test("two controllers may not declare the same output", () => {
  const rt = new ControllerRuntime(new Store());
  rt.register({ name: "a", inputs: [], outputs: [output.type], reconcile() {} });
  expect(() => rt.register({ name: "b", inputs: [], outputs: [output.type], reconcile() {} })).toThrow("already written by a");
  rt.stop();
});

test("a throwing controller is retried with doubling, capped backoff and recovers", async () => {
  const s = new Store();
  const clock = new ManualClock();
  const delays: number[] = [];
  const rt = new ControllerRuntime(s, { backoffBaseMs: 2, backoffMaxMs: 8, clock, onError: (_n, _e, d) => delays.push(d) });
  let calls = 0;
  rt.register({
    name: "flaky", inputs: [], outputs: [output.type],
    reconcile(ctx) {
      calls++;
      if (calls <= 5) throw new Error(`fail ${calls}`);
      ctx.modify({ ...output, id: "ok" }, () => ({ calls }));
    },
  });
  // Each failure waits out its delay on the clock, and nothing runs a moment before it is due.
  for (const wait of [2, 4, 8, 8, 8]) {
    await rt.idle();
    expect(clock.pending()).toEqual([wait]);
    const before = calls;
    clock.advance(wait - 1);
    expect(calls).toBe(before);
    clock.advance(1);
  }
  await rt.idle();
  expect(delays).toEqual([2, 4, 8, 8, 8]);
  expect(clock.pending()).toEqual([]);
  expect(s.get<{ calls: number }>({ ...output, id: "ok" })!.spec.calls).toBe(6);
  const st = rt.status()[0]!;
  expect(st).toMatchObject({ failures: 5, consecutiveFailures: 0, lastError: "fail 5" });
  rt.stop();
});

test("changes that arrive during a run coalesce into one more run", async () => {
  const s = new Store();
  const rt = new ControllerRuntime(s);
  let runs = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  rt.register({ name: "slow", inputs: [input], outputs: [], async reconcile() { runs++; if (runs === 1) await gate; } });
  expect(await eventually(() => runs === 1)).toBe(true);
  for (let i = 0; i < 10; i++) s.create({ ...input, id: `i${i}` }, {});
  release();
  await rt.idle();
  expect(runs).toBe(2);
  rt.stop();
});
