import { expect, test } from "bun:test";
import { Store } from "../../core/resources/index.ts";
import { sleep } from "./conditions.ts";
import { eventually } from "../../test/lib/eventually.ts";
import { SEQUENCES, type SequenceSpec } from "./resources.ts";
import { BusyError, PreemptedError, Sequencer, type Phase } from "./sequencer.ts";

function setup() {
  const store = new Store();
  const events: string[] = [];
  const seq = new Sequencer({ store, onEvent: (m) => events.push(m) });
  return { store, seq, events };
}

test("phases run in order, tasks in a phase concurrently, each emitting events and status", async () => {
  const { store, seq, events } = setup();
  const log: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  // a and b each wait (boundedly) until both are in flight: run one after the other, they never
  // meet and maxInFlight stays 1.
  const task = (name: string, meet = 1) => ({
    name,
    async run() { inFlight++; maxInFlight = Math.max(maxInFlight, inFlight); log.push(`+${name}`); await eventually(() => maxInFlight >= meet, 2000); log.push(`-${name}`); inFlight--; },
  });
  seq.define({ name: "boot", preemptedBy: [], phases: () => [{ name: "one", tasks: [task("a", 2), task("b", 2)] }, { name: "two", tasks: [task("c")] }] });
  await seq.run("boot");
  expect(maxInFlight).toBe(2);
  expect(log.indexOf("+c")).toBeGreaterThan(log.indexOf("-a"));
  expect(log.indexOf("+c")).toBeGreaterThan(log.indexOf("-b"));
  const st = store.get<SequenceSpec>({ ...SEQUENCES, id: "boot" })!.spec;
  expect(st.state).toBe("done");
  expect(st.phases.map((p) => [p.name, p.state, p.tasks.map((t) => t.state).join()])).toEqual([["one", "done", "done,done"], ["two", "done", "done"]]);
  expect(events[0]).toBe("sequence boot started");
  expect(events).toContain("task boot/one/b done");
  expect(events.at(-1)).toBe("sequence boot done");
});

test("a failing task fails its phase and the sequence; later phases do not run", async () => {
  const { store, seq } = setup();
  let ran = false;
  seq.define({ name: "boot", preemptedBy: [], phases: () => [
    { name: "p1", tasks: [{ name: "bad", run() { throw new Error("disk on fire"); } }, { name: "good", run() {} }] },
    { name: "p2", tasks: [{ name: "never", run() { ran = true; } }] },
  ] });
  await expect(seq.run("boot")).rejects.toThrow("disk on fire");
  expect(ran).toBe(false);
  const st = store.get<SequenceSpec>({ ...SEQUENCES, id: "boot" })!.spec;
  expect(st).toMatchObject({ state: "failed", error: "disk on fire" });
  expect(st.phases[0]!.tasks).toEqual([{ name: "bad", state: "failed", error: "disk on fire" }, { name: "good", state: "done" }]);
  expect(seq.running()).toBeUndefined();
});

const waitForever: Phase = {
  name: "wait",
  tasks: [{ name: "forever", run: ({ signal }) => sleep(60_000, signal) }],
};

test("reboot preempts a running boot; the boot ends aborted and the reboot runs", async () => {
  const { store, seq } = setup();
  let rebooted = false;
  let started = false;
  seq.define({ name: "boot", preemptedBy: ["reboot", "shutdown"], phases: () => [{ name: "wait", tasks: [{ name: "forever", run: ({ signal }) => { started = true; return sleep(60_000, signal); } }] }] });
  seq.define({ name: "reboot", preemptedBy: [], phases: () => [{ name: "go", tasks: [{ name: "reboot", run() { rebooted = true; } }] }] });
  const boot = seq.run("boot");
  expect(await eventually(() => started)).toBe(true);
  await seq.run("reboot");
  await expect(boot).rejects.toBeInstanceOf(PreemptedError);
  expect(rebooted).toBe(true);
  expect(store.get<SequenceSpec>({ ...SEQUENCES, id: "boot" })!.spec).toMatchObject({ state: "aborted", error: "preempted by reboot" });
});

test("a request that may not preempt gets busy: <sequence> in progress, and nothing changes", async () => {
  const { seq } = setup();
  seq.define({ name: "boot", preemptedBy: ["reboot"], phases: () => [waitForever] });
  seq.define({ name: "apply-config", preemptedBy: [], phases: () => [] });
  seq.define({ name: "reboot", preemptedBy: [], phases: () => [waitForever] });
  const boot = seq.run("boot");
  await expect(seq.run("apply-config")).rejects.toThrow(new BusyError("boot", "apply-config"));
  expect(seq.running()).toBe("boot");
  const reboot = seq.run("reboot");
  // The lock now belongs to reboot: even a second boot is refused against it.
  await expect(seq.run("boot")).rejects.toThrow("busy: reboot in progress");
  await expect(boot).rejects.toThrow("preempted by reboot");
  expect(seq.running()).toBe("reboot");
  reboot.catch(() => {});
});

test("a preempted sequence whose task ignores its signal delays the next one only a bounded time", async () => {
  const store = new Store();
  const seq = new Sequencer({ store, preemptWaitMs: 50 });
  let rebooted = false;
  let started = false;
  seq.define({ name: "boot", preemptedBy: ["reboot"], phases: () => [{ name: "stuck", tasks: [{ name: "deaf", run: () => { started = true; return new Promise<void>(() => {}); } }] }] });
  seq.define({ name: "reboot", preemptedBy: [], phases: () => [{ name: "go", tasks: [{ name: "reboot", run() { rebooted = true; } }] }] });
  void seq.run("boot").catch(() => {});
  expect(await eventually(() => started)).toBe(true);
  await seq.run("reboot");
  expect(rebooted).toBe(true);
});
