/**
 * Why a service fails, where the operator looks (issue 15): the compiled binary's init in
 * container mode. A service that exits with an error has its last lines on init's log (the
 * console) and in its status (`bunkerctl service ID`, MachineStatus); a state dir that apid's uid
 * cannot reach makes init refuse at start, naming the folder and the change, instead of apid
 * exiting 1 at every start forever.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eventually as within } from "./lib/eventually.ts";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getSpec, initClient } from "../services/init/api/client.ts";
import type { MachineStatusSpec } from "../services/init/resources.ts";
import { BIN, ctl, freePort } from "./lib/remote-cluster.ts";
import { waitForPort } from "./lib/container-node.ts";

const asRoot = process.getuid?.() === 0;
const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

/** Reads a process's stderr into `text` as it comes. */
function collect(p: Bun.Subprocess<"ignore", "ignore", "pipe">): { text: string; done: Promise<void> } {
  const out = { text: "", done: Promise.resolve() };
  const dec = new TextDecoder();
  out.done = (async () => { for await (const c of p.stderr) out.text += dec.decode(c); })();
  return out;
}

async function eventually<T>(what: string, f: () => T | Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  let v: T | undefined;
  if (await within(async () => ok(v = await f()), ms, 100)) return v!;
  throw new Error(`${what}: not reached after ${ms} ms; last: ${JSON.stringify(v)}`);
}

test.skipIf(!asRoot)("a state dir under a folder closed to apid's uid: init refuses at start, naming the folder and the change; opened, it boots", async () => {
  const top = mkdtempSync(join(tmpdir(), "bunker-closed-"));
  dirs.push(top);
  chmodSync(top, 0o700); // as mktemp -d makes it
  const state = join(top, "state");
  const port = await freePort();
  const args = [BIN, "init", "--mode=container", "--state-dir", state, "--no-table", "--api-listen", `127.0.0.1:${port}`];
  const p = Bun.spawn(args, { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const timer = setTimeout(() => p.kill(9), 30_000);
  const [log, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
  clearTimeout(timer);
  expect(code).toBe(2);
  expect(log).toContain("init: refusing to start: services cannot reach what they need:");
  expect(log).toContain(`apid (uid 50, gid 50) runs as its own user and cannot reach the state dir ${state}: ${top} (mode 0700, owner 0:0) does not let it through`);
  expect(log).toContain(`chmod o+x ${top}`);
  expect(log).not.toContain("exited with code");

  // The change it names is enough: apid starts and serves.
  chmodSync(top, 0o711);
  const q = Bun.spawn(args, { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const qlog = collect(q);
  try {
    await waitForPort(port, 20_000);
    expect(q.exitCode).toBeNull();
  } finally {
    q.kill("SIGTERM");
    const t = setTimeout(() => q.kill(9), 20_000);
    await q.exited;
    clearTimeout(t);
    await qlog.done;
  }
  expect(qlog.text).not.toContain("refusing to start");
  expect(qlog.text).not.toContain("service apid: Failed");
}, 60_000);

describe("a service that exits with an error", () => {
  let dir = "";
  let admin = "";
  let p: Bun.Subprocess<"ignore", "ignore", "pipe">;
  let initLog: { text: string; done: Promise<void> };
  let endpoint = "";

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "bunker-svcfail-"));
    dirs.push(dir);
    chmodSync(dir, 0o711); // apid (uid 50 under root) must reach the state dir
    const port = await freePort();
    endpoint = `127.0.0.1:${port}`;
    const gen = await ctl(undefined, "gen", "config", "demo", `https://${endpoint}`, "--output-dir", join(dir, "cfg"));
    if (gen.code !== 0) throw new Error(`gen config: ${gen.err}`);
    admin = join(dir, "cfg", "bunkerconfig");
    expect((await ctl(admin, "config", "endpoint", endpoint)).code).toBe(0);
    expect((await ctl(admin, "config", "node", endpoint)).code).toBe(0);
    // Says what is wrong on stderr among other lines on stdout, then exits 3; restarted slowly.
    const script = 'echo "loading /etc/toaster.conf"; i=1; while [ $i -le 15 ]; do echo "line $i"; i=$((i+1)); done; sleep 0.2; echo "toaster: cannot open /etc/toaster.conf: permission denied" >&2; exit 3';
    const services = join(dir, "services.yaml");
    writeFileSync(services, JSON.stringify([{ id: "toaster", argv: ["/bin/sh", "-c", script], restart: { policy: "always", baseDelayMs: 2000 } }]));
    mkdirSync(join(dir, "state"));
    p = Bun.spawn([BIN, "init", "--mode=container", "--state-dir", join(dir, "state"), "--no-table", "--api-listen", endpoint,
      "--config", join(dir, "cfg", "controlplane.yaml"), "--services", services], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    initLog = collect(p);
    await waitForPort(port, 20_000);
  }, 60_000);

  afterAll(async () => {
    p.kill("SIGTERM");
    const t = setTimeout(() => p.kill(9), 20_000);
    await p.exited;
    clearTimeout(t);
  });

  test("init's log shows its last lines (at most 10) after the exit", async () => {
    await eventually("the failure on init's log", () => initLog.text, (t) => t.includes("service toaster | toaster: cannot open /etc/toaster.conf: permission denied"));
    const lines = initLog.text.split("\n");
    const head = lines.findIndex((l) => l.includes("service toaster: its last 10 lines before it exited with code 3:"));
    expect(head).toBeGreaterThan(lines.findIndex((l) => l.includes("service toaster: Failed: exited with code 3")));
    const shown = lines.slice(head + 1, head + 11).map((l) => l.replace(/^.*service toaster \| /, ""));
    expect(shown).toEqual([...Array.from({ length: 9 }, (_, i) => `line ${i + 7}`), "toaster: cannot open /etc/toaster.conf: permission denied"]);
    expect(initLog.text).not.toContain("service toaster | loading /etc/toaster.conf");
  }, 30_000);

  test("`bunkerctl service ID` shows the last exit: code, when, and the last lines", async () => {
    const r = await eventually("the last exit in bunkerctl service", () => ctl(admin, "service", "toaster"), (r) => r.out.includes("LAST EXIT"));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/\nLAST EXIT {2}code 3 at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
    expect(r.out).toContain("LAST OUTPUT\n  | line 7\n");
    expect(r.out).toContain("  | toaster: cannot open /etc/toaster.conf: permission denied\nEVENTS");
    const [json] = JSON.parse((await ctl(admin, "service", "toaster", "-o", "json")).out);
    expect(json.lastExit).toMatchObject({ code: 3, output: expect.arrayContaining(["toaster: cannot open /etc/toaster.conf: permission denied"]) });
  }, 30_000);

  test("MachineStatus names the service's last exit and its last line", async () => {
    const c = initClient(join(dir, "state", "init.sock"));
    try {
      const st = await eventually("machine status", () => getSpec<MachineStatusSpec>(c, "machinestatus", "machine"),
        (s) => !!s?.unmetConditions.find((u) => u.name === "service toaster")?.reason.includes("last exit"));
      expect(st!.ready).toBe(false);
      expect(st!.unmetConditions.find((u) => u.name === "service toaster")!.reason)
        .toMatch(/; last exit: code 3 at \S+: toaster: cannot open \/etc\/toaster\.conf: permission denied$/);
    } finally {
      c.close();
    }
  }, 30_000);
});
