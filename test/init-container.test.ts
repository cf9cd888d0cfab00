/**
 * The compiled binary in container mode, driven the way an operator would: boot with a config
 * file, then the `reboot` and `poweroff` personalities ask init over its socket and init ends
 * with the documented exit codes.
 */
import { afterEach, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { MachineService } from "../core/api/gen/services.ts";
import { getSpec, initClient } from "../services/init/api/client.ts";
import type { HostnameSpec, MachineStatusSpec } from "../services/init/resources.ts";
import { edit, fixture } from "../core/config/testdata/fixtures.ts";
import { eventually } from "./lib/eventually.ts";

const worker = fixture("worker.yaml");

const bin = resolve(import.meta.dir, "../out/bunker");
const cleanup: (() => void)[] = [];
afterEach(() => { for (const f of cleanup.splice(0)) f(); });

async function startInit(extra: string[] = []) {
  const dir = mkdtempSync(join(tmpdir(), "bunker-ctr-"));
  const p = Bun.spawn([bin, "init", "--mode=container", "--state-dir", dir, "--no-table", ...extra], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  cleanup.push(() => { p.kill(9); rmSync(dir, { recursive: true, force: true }); });
  const sock = join(dir, "init.sock");
  if (!(await eventually(() => existsSync(sock)))) throw new Error(`init did not open ${sock}`);
  return { dir, p, sock };
}

test("booting with --config FILE reaches stage running with the configured hostname", async () => {
  const cfgDir = mkdtempSync(join(tmpdir(), "bunker-cfg-"));
  cleanup.push(() => rmSync(cfgDir, { recursive: true, force: true }));
  const cfg = join(cfgDir, "worker.yaml");
  writeFileSync(cfg, edit(worker, "  network:\n", "  network:\n    hostname: node7.lab.example\n"));
  const { sock } = await startInit(["--config", cfg]);
  const c = initClient(sock);
  cleanup.push(() => c.close());
  let st: MachineStatusSpec | undefined;
  await eventually(async () => (st = await getSpec<MachineStatusSpec>(c, "machinestatus", "machine"))?.ready === true, 10_000);
  expect(st).toMatchObject({ stage: "running", ready: true });
  expect(await getSpec<HostnameSpec>(c, "hostname", "hostname")).toEqual({ hostname: "node7", domainname: "lab.example", source: "config" });
}, 15_000);

test("a broken --config leaves init up, in maintenance, saying why, and a good config fixes it", async () => {
  const cfgDir = mkdtempSync(join(tmpdir(), "bunker-cfg-"));
  cleanup.push(() => rmSync(cfgDir, { recursive: true, force: true }));
  const cfg = join(cfgDir, "bad.yaml");
  writeFileSync(cfg, edit(worker, "type: worker", "type: toaster"));
  const { sock, p } = await startInit(["--config", cfg]);
  const c = initClient(sock);
  cleanup.push(() => c.close());
  let st: MachineStatusSpec | undefined;
  await eventually(async () => (st = await getSpec<MachineStatusSpec>(c, "machinestatus", "machine"))?.stage === "maintenance");
  expect(st!.stage).toBe("maintenance");
  expect(st!.unmetConditions.find((u) => u.name === "config")?.reason).toContain(`machine config from ${cfg} is not valid:\n${cfg}:4:9: error: machine.type: `);
  expect(p.exitCode).toBeNull();
  await c.unary(MachineService.ApplyConfiguration, { data: new TextEncoder().encode(worker) });
  expect(await getSpec(c, "machinestatus", "machine")).toMatchObject({ stage: "running", ready: true, unmetConditions: [] });
}, 15_000);

test("`reboot` and `poweroff` ask init through its socket; init exits 10 and 11", async () => {
  for (const [name, code] of [["reboot", 10], ["poweroff", 11]] as const) {
    const { sock, p } = await startInit();
    const r = Bun.spawnSync([bin, name, "--socket", sock]);
    expect(r.stdout.toString()).toBe(`${name}: ${name === "reboot" ? "reboot" : "shutdown"} accepted\n`);
    expect(r.exitCode).toBe(0);
    expect(await p.exited).toBe(code);
    const log = await new Response(p.stderr).text();
    expect(log).toContain(`power: ${name === "reboot" ? "reboot" : "poweroff"}`);
  }
}, 20_000);

test("the power personalities fail clearly when init is not there", () => {
  const r = Bun.spawnSync([bin, "shutdown", "--socket", "/nonexistent/init.sock"]);
  expect(r.exitCode).toBe(1);
  expect(r.stderr.toString()).toContain("init at /nonexistent/init.sock: UNAVAILABLE");
});

test("bad command lines exit 2 and say what is wrong", () => {
  const run = (...a: string[]) => Bun.spawnSync([bin, "init", ...a]);
  expect(run("--mode=container").stderr.toString()).toContain("--mode=container needs --state-dir DIR");
  expect(run("--mode=metal").stderr.toString()).toContain("runs only as PID 1");
  expect(run("--mode=container", "--state-dir", "/tmp", "--inject-fault", "nope").exitCode).toBe(2);
  for (const a of [["--disk", "/tmp/x.img"], ["--slot", "A"], ["--disk", "/tmp/x.img", "--slot", "C"]]) {
    const r = run("--mode=container", "--state-dir", "/tmp", ...a);
    expect({ a, code: r.exitCode, err: r.stderr.toString() }).toEqual({ a, code: 2, err: "init: --disk PATH and --slot A|B go together\n" });
  }
  const both = run("--mode=container", "--state-dir", "/tmp", "--install-disk", "/tmp/x.img", "--disk", "/tmp/x.img", "--slot", "A");
  expect({ code: both.exitCode, err: both.stderr.toString() }).toEqual({ code: 2, err: "init: --install-disk is for a node not yet installed; not with --disk/--slot\n" });
  const key = run("--mode=container", "--state-dir", "/tmp", "--image-key", "/nonexistent/image.pub");
  expect(key.exitCode).toBe(2);
  expect(key.stderr.toString()).toContain("--image-key /nonexistent/image.pub: ENOENT");
});
