/**
 * Outside a pid namespace (container mode on a host, no root needed), init makes itself a child
 * subreaper, so orphans of its services come to it instead of the host's PID 1, and it reaps them.
 */
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { getSpec, initClient } from "../services/init/api/client.ts";
import type { InitStatusSpec } from "../services/init/resources.ts";
import { eventually } from "./lib/eventually.ts";

const bin = resolve(import.meta.dir, "../out/bunker");
const dir = mkdtempSync(join(tmpdir(), "bunker-subreaper-"));
let p: ReturnType<typeof Bun.spawn> | undefined;
afterAll(() => { p?.kill("SIGTERM"); rmSync(dir, { recursive: true, force: true }); });

test("orphans of a service are re-parented to init and reaped, leaving no zombies", async () => {
  writeFileSync(join(dir, "svc.json"), JSON.stringify([
    { id: "orphaner", argv: ["/bin/sh", "-c", "for i in $(seq 1 10); do sh -c 'sleep 0.05 &'; sleep 0.05; done; exec sleep 1000"] },
  ]));
  p = Bun.spawn([bin, "init", "--mode=container", "--state-dir", dir, "--services", join(dir, "svc.json"), "--no-table"], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  const sock = join(dir, "init.sock");
  expect(await eventually(() => existsSync(sock))).toBe(true);
  const c = initClient(sock);
  let reaped = 0;
  await eventually(async () => (reaped = (await getSpec<InitStatusSpec>(c, "initstatus", "init"))?.reaped ?? 0) >= 10, 10_000);
  c.close();
  expect(reaped).toBeGreaterThanOrEqual(10);
  const zombies = readdirSync("/proc").filter((n) => /^\d+$/.test(n)).filter((n) => {
    try {
      const st = readFileSync(`/proc/${n}/status`, "utf8");
      return /^State:\s+Z/m.test(st) && new RegExp(`^PPid:\\s+${p!.pid}$`, "m").test(st);
    } catch { return false; }
  });
  expect(zombies).toEqual([]);
}, 20_000);
