/**
 * An uncaught error in init does not end it at once: it is logged and the machine "reboots" 10 s
 * later (on a node reboot(2); in container mode exit code 12), with the API still answering in
 * between.
 */
import { expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { getSpec, initClient } from "../services/init/api/client.ts";
import type { InitStatusSpec } from "../services/init/resources.ts";
import { eventually } from "./lib/eventually.ts";

const bin = resolve(import.meta.dir, "../out/bunker");

test("an uncaught error is logged, init keeps serving, and exits 12 after 10 s", async () => {
  const dir = mkdtempSync(join(tmpdir(), "bunker-fatal-"));
  const p = Bun.spawn([bin, "init", "--mode=container", "--state-dir", dir, "--no-table", "--inject-fault", "uncaught"],
    { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  // init's stderr as it comes, so the test can wait for the injected error to have happened.
  let log = "";
  const logDone = (async () => { for await (const chunk of p.stderr.pipeThrough(new TextDecoderStream())) log += chunk; })();
  try {
    const sock = join(dir, "init.sock");
    expect(await eventually(() => existsSync(sock))).toBe(true);
    expect(await eventually(() => log.includes("fatal: Error: injected uncaught error"), 10_000)).toBe(true);
    const c = initClient(sock);
    const v = (await getSpec<InitStatusSpec>(c, "initstatus", "init"))!;
    c.close();
    expect(v.mode).toBe("container");
    const code = await p.exited;
    await logDone;
    expect(code).toBe(12);
    expect(log).toContain("fatal: Error: injected uncaught error (test hook)");
    expect(log).toContain("rebooting in 10 s");
  } finally {
    p.kill(9);
    rmSync(dir, { recursive: true, force: true });
  }
}, 30_000);
