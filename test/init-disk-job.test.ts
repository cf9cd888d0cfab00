/**
 * PID 1 never blocks on disk work: init (the compiled binary, container mode) installs itself on
 * a disk image FILE (--install-disk), or writes an upgrade's slot, with mkfs, mtools and the
 * slot copy done by its child `bunker partition job`; while that child runs, init answers its
 * API and reaps the orphans a
 * service keeps making (an upgrade's slot write, where the services run), and the progress
 * arrives as the install's and upgrade's own lines. After the install init reboots (exit 10). Needs root (as the install tests), the host's mkfs and GRUB tools.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { eventually } from "./lib/eventually.ts";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { openDisk } from "../core/gpt/device.ts";
import { loadSigningKey } from "../core/image/manifest.ts";
import { bootState } from "../core/install/slots.ts";
import { getSpec, initClient } from "../services/init/api/client.ts";
import { MachineService } from "../core/api/gen/services.ts";
import type { GrpcClient } from "../core/grpc/client.ts";
import type { InitStatusSpec } from "../services/init/resources.ts";
import { testKey } from "./image/fixture.ts";
import { installFixture, type InstallFixture } from "./lib/install-fixture.ts";
import { serveFolder } from "./lib/image-copies.ts";
import { workerConfig } from "./lib/machineconfig.ts";
import { edit } from "../core/config/testdata/fixtures.ts";

const bin = resolve(import.meta.dir, "../out/bunker");
const root = process.getuid?.() === 0;
let fx: InstallFixture | undefined;
let server: ReturnType<typeof Bun.serve> | undefined;
let p: ReturnType<typeof Bun.spawn> | undefined;

beforeAll(async () => {
  if (!root) return;
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run scripts/build.ts first`);
  fx = await installFixture("init-disk-job-");
  server = serveFolder(fx.work);
}, 600_000);
afterAll(() => {
  p?.kill("SIGKILL");
  void server?.stop(true);
  fx?.cleanup();
});

/** The children of `ppid`: pid, command line, whether a zombie. */
function childrenOf(ppid: number): { pid: number; cmd: string; zombie: boolean }[] {
  const out: { pid: number; cmd: string; zombie: boolean }[] = [];
  for (const n of readdirSync("/proc")) {
    if (!/^\d+$/.test(n)) continue;
    try {
      const st = readFileSync(`/proc/${n}/status`, "utf8");
      if (!new RegExp(`^PPid:\\s+${ppid}$`, "m").test(st)) continue;
      const zombie = /^State:\s+Z/m.test(st);
      const cmd = zombie ? (/^Name:\s+(.*)$/m.exec(st)?.[1] ?? "") : readFileSync(`/proc/${n}/cmdline`, "utf8").split("\0").join(" ");
      out.push({ pid: Number(n), cmd, zombie });
    } catch { /* gone meanwhile */ }
  }
  return out;
}
const jobChildren = (ppid: number) => childrenOf(ppid).filter((k) => !k.zombie && k.cmd.includes("partition job")).map((k) => k.pid);

const alive = (pid: number) => { try { return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8")); } catch { return false; } };

/** Starts the compiled init in container mode with `args`, in `state`; returns its API client once it serves. */
async function startInit(state: string, args: string[]): Promise<GrpcClient> {
  const svc = join(fx!.work, "svc.json");
  // An orphan every 50 ms, living 0.2 s, for as long as the service runs: reaping must go on.
  writeFileSync(svc, JSON.stringify([{ id: "orphaner", argv: ["/bin/sh", "-c", "while :; do sh -c 'sleep 0.2 &'; sleep 0.05; done"] }]));
  writeFileSync(join(fx!.work, "image.pub"), loadSigningKey(testKey()).publicKey.export({ type: "spki", format: "pem" }).toString());
  p = Bun.spawn([bin, "init", "--mode=container", "--state-dir", state, "--services", svc, "--no-table", "--image-key", join(fx!.work, "image.pub"), ...args],
    { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const sock = join(state, "init.sock");
  await eventually(() => existsSync(sock), 10_000);
  return initClient(sock);
}

/** Waits (bounded) for init's disk job child, then samples until it ends: API answers, orphans seen, zombies at most. */
async function duringJob(c: GrpcClient, init: number) {
  let child: number | undefined;
  await eventually(() => (child = jobChildren(init)[0]) !== undefined || p!.exitCode !== null, 60_000);
  expect(child).toBeDefined();
  let answers = 0, maxZombies = 0, slowest = 0;
  const orphans = new Set<number>();
  const t0 = performance.now();
  for (let i = 0; i < 6000 && alive(child!); i++) {
    const asked = performance.now();
    const s = await getSpec<InitStatusSpec>(c, "initstatus", "init").catch(() => undefined);
    // Counted only when the child was still there after the answer came back.
    if (s?.pid === init && alive(child!)) { answers++; slowest = Math.max(slowest, performance.now() - asked); }
    const kids = childrenOf(init);
    for (const k of kids.filter((k) => k.cmd.startsWith("sleep"))) orphans.add(k.pid);
    maxZombies = Math.max(maxZombies, kids.filter((k) => k.zombie).length);
    await Bun.sleep(50);
  }
  const seen = { answers, orphans: orphans.size, maxZombies, childMs: Math.round(performance.now() - t0), slowestAnswerMs: Math.round(slowest) };
  // The figures, for the record (docs/disks.md quotes them).
  console.log(`disk job child: ${JSON.stringify(seen)}`);
  return seen;
}

test.skipIf(!root)("while an install's disk work runs in its child, init answers its API; then it reboots into the disk", async () => {
  const dir = fx!.work;
  const disk = fx!.blankDisk("disk.img");
  const url = `http://127.0.0.1:${server!.port}/image/`;
  writeFileSync(join(dir, "boot.yaml"), edit(workerConfig("  network:\n    hostname: installing\n"), '  install:\n    diskSelector:\n      size: ">= 10GB"\n      model: "QEMU*"\n', `  install:\n    disk: /dev/vda\n    image: "${url}"\n`));
  const c = await startInit(join(dir, "install-state"), ["--config", join(dir, "boot.yaml"), "--install-disk", disk]);
  // The services start only after the install (it reboots first): no orphans to reap here.
  const seen = await duringJob(c, p!.pid);
  c.close();
  expect(seen.answers).toBeGreaterThanOrEqual(3);
  const code = await Promise.race([p!.exited, Bun.sleep(300_000).then(() => "timeout")]);
  const err = await new Response(p!.stderr as ReadableStream).text();
  expect({ code, tail: code === 10 ? "" : err.slice(-2000) }).toEqual({ code: 10, tail: "" });
  // Progress came from the child, as the install's own lines, before the reboot.
  expect(err).toMatch(/install: writing slot A[^]*install: writing the UEFI bootloader[^]*installed test to slot A/);
  const dev = openDisk(disk);
  try { expect(bootState(dev).slot).toBe("A"); } finally { dev.close(); }
}, 600_000);

test.skipIf(!root)("while an upgrade's slot write runs in its child, init answers its API and reaps the orphans of a running service", async () => {
  const disk = fx!.installedDisk("upgrade.img");
  const c = await startInit(join(fx!.work, "upgrade-state"), ["--disk", disk, "--slot", "A"]);
  try {
    // The upgrade call answers only once the slot is written: on a connection of its own.
    const u = initClient(join(fx!.work, "upgrade-state", "init.sock"));
    const done = u.unary(MachineService.Upgrade, { image: `http://127.0.0.1:${server!.port}/image/`, stage: true }).finally(() => u.close());
    const seen = await duringJob(c, p!.pid);
    expect((await done).message).toBe("staged: slot B boots once at the next reboot");
    expect(seen.answers).toBeGreaterThanOrEqual(3);
    expect(seen.orphans).toBeGreaterThanOrEqual(3);
    // A blocked init would leave one more zombie every 50 ms for as long as the write runs.
    expect(seen.maxZombies).toBeLessThanOrEqual(4);
    const dev = openDisk(disk);
    try { expect(bootState(dev)).toMatchObject({ slot: "A", trySlot: "B" }); } finally { dev.close(); }
  } finally {
    c.close();
    p!.kill("SIGTERM");
    await Promise.race([p!.exited, Bun.sleep(30_000)]);
  }
}, 600_000);
