import { afterEach, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Store } from "../../core/resources/index.ts";
import { fileExists, NETWORK_STATUS, networkOnline } from "./conditions.ts";
import { SERVICES } from "./resources.ts";
import type { ServiceStatus } from "./service.ts";
import { restartDelay, Supervisor } from "./supervisor.ts";
import { eventually, nextTurn } from "../../test/lib/eventually.ts";
import { ManualClock } from "../../core/time/clock.ts";

const dirs: string[] = [];
const sups: Supervisor[] = [];
function setup(clock?: ManualClock) {
  const dir = mkdtempSync(join(tmpdir(), "bunker-sup-"));
  dirs.push(dir);
  const store = new Store();
  const sup = new Supervisor({ store, clock });
  sups.push(sup);
  if (clock) clocks.push(clock);
  return { dir, store, sup };
}
/** The delays a service's "restarting in N ms" events announced, in order. */
const announced = (sup: Supervisor, id: string) =>
  sup.status(id).events.filter((e) => e.message.startsWith("restarting in")).map((e) => Number(/in (\d+) ms/.exec(e.message)![1]));
const clocks: ManualClock[] = [];
afterEach(async () => {
  // A test that failed half-way may leave a stop waiting out its grace on a ManualClock: time is
  // moved on for it until everything has stopped.
  const mover = setInterval(() => { for (const c of clocks) c.advance(60_000); }, 10);
  try {
    await Promise.all(sups.splice(0).map((s) => s.stopAll()));
  } finally {
    clearInterval(mover);
    clocks.splice(0);
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const sh = (script: string) => ({ argv: ["/bin/sh", "-c", script] });

test("a dependant starts only once its dependency is healthy; states and events are published", async () => {
  const { dir, store, sup } = setup();
  const order = join(dir, "order");
  const ready = join(dir, "a.ready");
  sup.add({
    id: "a", runner: sh(`echo a >> ${order}; sleep 0.2; touch ${ready}; exec sleep 30`),
    health: { initialDelayMs: 0, intervalMs: 50, check: async () => { if (!existsSync(ready)) throw new Error("not ready"); } },
  });
  sup.add({ id: "b", dependsOn: ["a"], runner: sh(`echo b >> ${order}; exec sleep 30`) });
  sup.start();
  await sup.waitFor(() => sup.status("b").state === "Running");
  // b's shell may not have written its line yet when the supervisor marks it Running.
  await eventually(() => readFileSync(order, "utf8").split("\n").length >= 3);
  expect(readFileSync(order, "utf8")).toBe("a\nb\n");
  expect(sup.status("b").events.find((e) => e.state === "Running")!.time >= sup.status("a").events.find((e) => e.message === "health check passed")!.time).toBe(true);
  const b = store.get<ServiceStatus>({ ...SERVICES, id: "b" })!.spec;
  expect(b.state).toBe("Running");
  expect(b.events.map((e) => e.state)).toEqual(["Waiting", "Preparing", "Running"]);
  expect(b.events[0]!.message).toBe("waiting for service a");
  expect(sup.status("a").healthy).toBe(true);
}, 10_000);

test("unknown dependencies and cycles are refused by name", () => {
  const { sup } = setup();
  sup.add({ id: "a", dependsOn: ["b"], runner: sh("true") });
  sup.add({ id: "b", dependsOn: ["a"], runner: sh("true") });
  expect(() => sup.start()).toThrow("cycle: a -> b -> a");
  const s2 = setup().sup;
  s2.add({ id: "x", dependsOn: ["nope"], runner: sh("true") });
  expect(() => s2.start()).toThrow("service x: depends on unknown service nope");
  expect(() => s2.add({ id: "Bad Id", runner: sh("true") })).toThrow("id must be");
});

test("a crash loop is restarted with doubling delays up to the cap, each waited in full", async () => {
  const clock = new ManualClock();
  const { sup } = setup(clock);
  sup.add({ id: "crash", runner: sh("exit 3"), restart: { policy: "always", baseDelayMs: 1000, maxDelayMs: 8000 } });
  sup.start();
  // base 1 s doubling with jitter 0.75..1.25: 1, 2, 4, then the cap of 8 s.
  const nominal = [1000, 2000, 4000, 8000, 8000, 8000];
  for (const [i, n] of nominal.entries()) {
    await sup.waitFor(() => sup.status("crash").restarts === i + 1);
    const delay = announced(sup, "crash")[i]!;
    expect(delay).toBeGreaterThanOrEqual(Math.floor(n * 0.75));
    expect(delay).toBeLessThanOrEqual(Math.min(8000, Math.ceil(n * 1.25)));
    // The supervisor waits exactly the delay it announced: not started 1 ms before, started at it.
    expect(clock.pending()).toEqual([delay]);
    clock.advance(delay - 1);
    await nextTurn();
    expect(sup.status("crash").state).toBe("Failed");
    clock.advance(1);
    expect(clock.pending()).toEqual([]);
  }
  await sup.waitFor(() => sup.status("crash").restarts === nominal.length + 1);
  await sup.stop("crash");
  const st = sup.status("crash");
  expect(st.lastExit?.code).toBe(3);
  expect(st.events.some((e) => e.state === "Failed" && e.message === "exited with code 3")).toBe(true);
}, 10_000);

test("a run that lasts resetAfterMs resets the backoff to its base", async () => {
  const clock = new ManualClock();
  const { dir, sup } = setup(clock);
  const go = join(dir, "go");
  // Each run waits for the test to let it exit, so the test decides how long a run lasted.
  sup.add({ id: "flaky", runner: sh(`while [ ! -f ${go} ]; do sleep 0.01; done; rm ${go}; exit 1`), restart: { policy: "always", baseDelayMs: 1000, maxDelayMs: 8000, resetAfterMs: 60_000 } });
  sup.start();
  const runAndExit = async (lastsMs: number, restarts: number) => {
    await sup.waitFor(() => sup.status("flaky").state === "Running");
    clock.advance(lastsMs);
    writeFileSync(go, "");
    await sup.waitFor(() => sup.status("flaky").restarts === restarts);
    const delay = announced(sup, "flaky").at(-1)!;
    clock.advance(delay);
    return delay;
  };
  expect(await runAndExit(0, 1)).toBeLessThanOrEqual(1250);
  expect(await runAndExit(0, 2)).toBeGreaterThanOrEqual(1500);
  expect(await runAndExit(0, 3)).toBeGreaterThanOrEqual(3000);
  // A minute's run: the next wait is the base again.
  expect(await runAndExit(60_000, 4)).toBeLessThanOrEqual(1250);
}, 10_000);

test("a service keeps only its last 64 events, oldest dropped first", async () => {
  const store = new Store();
  let emitted = 0;
  const sup = new Supervisor({ store, onEvent: () => emitted++ });
  sups.push(sup);
  sup.add({ id: "churn", runner: sh("exit 1"), restart: { policy: "always", baseDelayMs: 1, maxDelayMs: 1 } });
  sup.start();
  await sup.waitFor(() => sup.status("churn").restarts >= 30); // about 4 events per restart
  await sup.stop("churn");
  const events = store.get<ServiceStatus>({ ...SERVICES, id: "churn" })!.spec.events;
  expect(events.length).toBe(64);
  expect(events.at(-1)!.message).toBe("stopped");
  expect(emitted).toBeGreaterThan(100); // so the first ones were dropped
  expect(events.map((e) => e.time)).toEqual(events.map((e) => e.time).sort());
}, 15_000);

test("restartDelay never exceeds 30 s whatever the settings", () => {
  for (let n = 1; n < 40; n++) expect(restartDelay(n, 1000, 10 ** 9)).toBeLessThanOrEqual(30_000);
  expect(restartDelay(1, 100, 30_000)).toBeGreaterThanOrEqual(75);
});

test("policies: on-failure stops after success, never stops after failure", async () => {
  const clock = new ManualClock();
  const { sup } = setup(clock);
  sup.add({ id: "ok", runner: sh("exit 0"), restart: { policy: "on-failure", baseDelayMs: 1 } });
  sup.add({ id: "once", runner: sh("exit 1"), restart: { policy: "never" } });
  sup.start();
  await sup.waitFor(() => sup.status("ok").state === "Finished" && sup.status("once").state === "Failed");
  // A restart would be counted, and its wait set on the clock, as soon as the exit is handled.
  await nextTurn();
  expect(clock.pending()).toEqual([]);
  expect(sup.status("ok").restarts).toBe(0);
  expect(sup.status("once").restarts).toBe(0);
  expect(sup.isUp("ok")).toBe(false); // on-failure may still restart later; only a clean "never" counts as up
});

test("a service that ignores SIGTERM is killed after its grace period", async () => {
  const clock = new ManualClock();
  const { dir, sup } = setup(clock);
  const ready = join(dir, "ready");
  sup.add({ id: "stubborn", stopGraceMs: 300, runner: sh(`trap '' TERM; touch ${ready}; while :; do sleep 0.05; done`) });
  sup.start();
  await fileExists(ready, 10).wait(new AbortController().signal);
  let stopped = false;
  const stopping = sup.stop("stubborn").then(() => { stopped = true; });
  expect(clock.pending()).toEqual([300]);
  clock.advance(299);
  await nextTurn();
  expect(stopped).toBe(false);
  expect(sup.status("stubborn").state).toBe("Stopping");
  clock.advance(1);
  await stopping;
  const msgs = sup.status("stubborn").events.map((e) => `${e.state}: ${e.message}`);
  expect(msgs).toContain("Stopping: grace period of 300 ms elapsed, sending SIGKILL");
  expect(sup.status("stubborn").lastExit?.signal).toBe("SIGKILL");
  expect(sup.status("stubborn").state).toBe("Finished");
}, 10_000);

test("stopAll stops dependants before their dependencies", async () => {
  const { dir, sup } = setup();
  const log = join(dir, "stops");
  // Each shell says when its trap is in place, so the stop cannot come before it.
  const svc = (id: string) => sh(`trap 'echo ${id} >> ${log}; exit 0' TERM; touch ${dir}/${id}.trap; while :; do sleep 0.05; done`);
  sup.add({ id: "base", runner: svc("base") });
  sup.add({ id: "mid", dependsOn: ["base"], runner: svc("mid") });
  sup.add({ id: "top", dependsOn: ["mid"], runner: svc("top") });
  sup.add({ id: "side", dependsOn: ["base"], runner: svc("side") });
  sup.start();
  await sup.waitFor(() => sup.ids().every((id) => sup.status(id).state === "Running"));
  expect(await eventually(() => sup.ids().every((id) => existsSync(join(dir, `${id}.trap`))))).toBe(true);
  await sup.stopAll();
  const order = readFileSync(log, "utf8").trim().split("\n");
  expect(order.indexOf("top")).toBeLessThan(order.indexOf("mid"));
  expect(order.indexOf("mid")).toBeLessThan(order.indexOf("base"));
  expect(order.indexOf("side")).toBeLessThan(order.indexOf("base"));
  expect(order.length).toBe(4);
}, 10_000);

test("stdout and stderr land in the service's ring buffer; conditions hold a service in Waiting", async () => {
  const { dir, sup } = setup();
  const flag = join(dir, "go");
  sup.add({ id: "talker", conditions: [fileExists(flag, 10)], restart: { policy: "never" }, runner: sh("echo out1; echo err1 >&2; echo out2") });
  sup.add({ id: "skipped", skip: () => "not built in", runner: sh("true") });
  sup.start();
  await sup.waitFor(() => sup.status("talker").state === "Waiting");
  expect(sup.status("talker").events.at(-1)!.message).toBe(`waiting for file ${flag} exists`);
  expect(sup.status("skipped").state).toBe("Skipped");
  writeFileSync(flag, "");
  await sup.waitFor(() => sup.status("talker").state === "Finished");
  const text = sup.logs("talker").tail(10);
  expect(text.split("\n").filter(Boolean).sort()).toEqual(["err1", "out1", "out2"]);
  expect(sup.logs("talker").tail(1)).toMatch(/^(out2|err1|out1)\n$/);
}, 10_000);

test("a missing program fails the service without harming the supervisor", async () => {
  const { sup } = setup();
  sup.add({ id: "ghost", runner: { argv: ["/nonexistent/ghost"] }, restart: { policy: "never" } });
  sup.start();
  await sup.waitFor(() => sup.status("ghost").state === "Failed");
  expect(sup.status("ghost").events.at(-1)!.message).toContain("failed to start");
});

const root = process.getuid?.() === 0;
test.skipIf(!root)("the exec helper applies uid, groups, bounding set, no_new_privs and oom_score_adj (needs root)", async () => {
  const { sup } = setup();
  sup.add({
    id: "locked", restart: { policy: "never" },
    runner: { argv: ["/bin/sh", "-c", "cat /proc/self/status; echo oom=$(cat /proc/self/oom_score_adj)"], uid: 65534, gid: 65534, capabilities: ["CAP_NET_BIND_SERVICE"], noNewPrivs: true, oomScoreAdj: 500 },
  });
  sup.start();
  await sup.waitFor(() => ["Finished", "Failed"].includes(sup.status("locked").state));
  const out = sup.logs("locked").tail(100);
  expect(sup.status("locked").state).toBe("Finished");
  const field = (name: string) => new RegExp(`^${name}:[ \\t]*(.*)$`, "m").exec(out)?.[1]?.trim();
  expect(field("Uid")).toBe("65534\t65534\t65534\t65534");
  expect(field("Gid")).toBe("65534\t65534\t65534\t65534");
  expect(field("Groups")).toBe("");
  expect(field("NoNewPrivs")).toBe("1");
  expect(field("CapBnd")).toBe("0000000000000400"); // bit 10: CAP_NET_BIND_SERVICE
  expect(out).toContain("oom=500");
}, 15_000);

test("a health check that hangs past its timeout marks the service unhealthy, holding back dependants", async () => {
  const clock = new ManualClock();
  const { sup } = setup(clock);
  let checks = 0;
  sup.add({
    id: "slow", runner: sh("exec sleep 30"),
    health: { initialDelayMs: 700, intervalMs: 2000, timeoutMs: 50, check: (signal) => { checks++; return new Promise((_, rej) => signal.addEventListener("abort", () => rej(signal.reason))); } },
  });
  sup.add({ id: "after", dependsOn: ["slow"], runner: sh("exec sleep 30") });
  sup.start();
  await sup.waitFor(() => sup.status("slow").state === "Running");
  // The first check comes after the initial delay, and fails at its timeout, not before.
  expect(clock.pending()).toEqual([700]);
  clock.advance(699);
  await nextTurn();
  expect(checks).toBe(0);
  clock.advance(1);
  await nextTurn();
  expect(checks).toBe(1);
  expect(clock.pending()).toEqual([50]);
  clock.advance(49);
  await nextTurn();
  expect(sup.status("slow").healthy).toBe(false); // not checked yet: false until a check passes
  expect(sup.status("slow").events.some((e) => e.message.startsWith("health check"))).toBe(false);
  clock.advance(1);
  await sup.waitFor(() => sup.status("slow").events.some((e) => e.message.startsWith("health check failed")));
  // The next check waits the interval.
  await nextTurn();
  expect(clock.pending()).toEqual([2000]);
  expect(sup.status("slow").events.at(-1)!.message).toBe("health check failed: timed out after 50 ms");
  expect(sup.status("slow").healthy).toBe(false);
  expect(sup.status("after").state).toBe("Waiting");
}, 10_000);

test("pre-start runs before the process; a failing pre-start fails the run and is retried", async () => {
  const { dir, sup } = setup();
  const marker = join(dir, "prepared");
  let attempts = 0;
  sup.add({
    id: "prep", restart: { policy: "on-failure", baseDelayMs: 5 },
    preStart: () => { attempts++; if (attempts === 1) throw new Error("volume not ready"); writeFileSync(marker, "ok"); },
    runner: sh(`test -f ${marker} && exec sleep 30`),
  });
  sup.start();
  await sup.waitFor(() => sup.status("prep").state === "Running");
  const msgs = sup.status("prep").events.map((e) => `${e.state}: ${e.message}`);
  expect(msgs).toContain("Failed: failed to start: volume not ready");
  expect(msgs).toContain("Preparing: running pre-start");
  expect(attempts).toBe(2);
}, 10_000);

test("a service waiting for network online starts when the network status says so", async () => {
  const { store, sup } = setup();
  sup.add({ id: "needs-net", conditions: [networkOnline(store)], runner: sh("exec sleep 30") });
  sup.start();
  await sup.waitFor(() => sup.status("needs-net").state === "Waiting");
  expect(sup.status("needs-net").events.at(-1)!.message).toBe("waiting for network online");
  store.create(NETWORK_STATUS, { online: false });
  // A start would begin as soon as the store's event is handled, before the next macrotask.
  await nextTurn();
  expect(sup.status("needs-net").state).toBe("Waiting");
  store.update(NETWORK_STATUS, { online: true });
  await sup.waitFor(() => sup.status("needs-net").state === "Running");
}, 10_000);

test.skipIf(!root)("memoryMax is written to the service's cgroup before it starts; a failure to write fails the start (needs root)", async () => {
  // A plain folder stands in for the cgroup v2 tree: the supervisor writes memory.max, the exec
  // helper writes cgroup.procs; the kernel's side is the node's (see docs/init.md).
  const dir = mkdtempSync(join(tmpdir(), "bunker-sup-cg-"));
  dirs.push(dir);
  const store = new Store();
  const sup = new Supervisor({ store, cgroupRoot: dir });
  sups.push(sup);
  sup.add({ id: "capped", restart: { policy: "never" }, memoryMax: 256 * 1024 * 1024, runner: sh("echo ran") });
  sup.start();
  await sup.waitFor(() => ["Finished", "Failed"].includes(sup.status("capped").state));
  expect(sup.status("capped").state).toBe("Finished");
  expect(readFileSync(join(dir, "capped", "memory.max"), "utf8")).toBe(String(256 * 1024 * 1024));
  // memory.max cannot be written (a folder in its place): the service does not start unbounded.
  mkdirSync(join(dir, "broken", "memory.max"), { recursive: true });
  sup.add({ id: "broken", restart: { policy: "never" }, memoryMax: 1 << 20, runner: sh("echo ran") });
  sup.start("broken");
  await sup.waitFor(() => ["Finished", "Failed"].includes(sup.status("broken").state));
  expect(sup.status("broken").state).toBe("Failed");
  expect(sup.status("broken").events.at(-1)!.message).toContain("memory.max");
  expect(sup.logs("broken").tail(10)).not.toContain("ran");
}, 15_000);

test("a failed exit keeps the last lines of that run (stdout and stderr), told to onEvent and kept in lastExit", async () => {
  const dir = mkdtempSync(join(tmpdir(), "bunker-sup-"));
  dirs.push(dir);
  const store = new Store();
  const told: { message: string; output?: string[] }[] = [];
  const sup = new Supervisor({ store, onEvent: (_id, ev, output) => told.push({ message: ev.message, output }) });
  sups.push(sup);
  const runs = join(dir, "runs");
  // Each run writes 12 numbered lines on stdout, then (a moment later, so the two pipes' order
  // is known) 3 on stderr and an unterminated one with an escape sequence; the second run exits 0.
  sup.add({
    id: "f", restart: { policy: "on-failure", baseDelayMs: 10 },
    runner: sh(`echo x >> ${runs}; n=$(wc -l < ${runs}); i=1; while [ $i -le 12 ]; do echo "run $n out $i"; i=$((i+1)); done; sleep 0.3; printf 'run %s err 1\\nrun %s err 2\\nno newline \\033[2J' $n $n >&2; [ $n -ge 2 ] && exit 0; exit 3`),
  });
  sup.start();
  await sup.waitFor(() => sup.status("f").state === "Finished");
  const failed = told.find((t) => t.message === "exited with code 3")!;
  expect(failed.output).toEqual([...[5, 6, 7, 8, 9, 10, 11, 12].map((i) => `run 1 out ${i}`).slice(1), "run 1 err 1", "run 1 err 2", "no newline ?[2J"]);
  // The clean second exit carries no output, and lastExit is that exit.
  expect(told.find((t) => t.message === "exited with code 0")!.output).toBeUndefined();
  expect(sup.status("f").lastExit).toMatchObject({ code: 0, signal: null });
  expect(sup.status("f").lastExit!.output).toBeUndefined();
}, 10_000);

test("an exit by a signal keeps its last lines too, and says which signal", async () => {
  const told: string[][] = [];
  const s2 = new Supervisor({ store: new Store(), onEvent: (_id, ev, output) => { if (output) told.push([ev.message, ...output]); } });
  sups.push(s2);
  s2.add({ id: "k", restart: { policy: "never" }, runner: sh("echo 'about to be killed'; kill -9 $$") });
  s2.start();
  await s2.waitFor(() => s2.status("k").state === "Failed");
  expect(told).toEqual([["killed by SIGKILL", "about to be killed"]]);
  expect(s2.status("k").lastExit).toMatchObject({ code: null, signal: "SIGKILL", output: ["about to be killed"] });
});
