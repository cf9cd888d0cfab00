/**
 * scripts/demo.sh end to end, as the README tells a newcomer to run it: it builds, boots a node
 * in QEMU in the background, applies a config and shows version and services; `stop` powers the
 * node off and QEMU ends. Runs in its own folder (DEMO_DIR) on a free port, so a demo the
 * operator has running is not touched.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repo } from "../image/fixture.ts";
import { freePort, haveQemu } from "../qemu/runner.ts";
import { ctlOk } from "./node.ts";

const dir = mkdtempSync(join(tmpdir(), "demo-test-"));

async function demo(args: string[], env: Record<string, string>, timeoutMs: number): Promise<{ code: number; out: string }> {
  const p = Bun.spawn(["bash", join(repo, "scripts/demo.sh"), ...args], { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  const t = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
  try {
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    return { code, out: out + err };
  } finally {
    clearTimeout(t);
  }
}

afterAll(() => {
  // Whatever happened, no QEMU is left behind.
  const pidfile = join(dir, "qemu.pid");
  if (existsSync(pidfile)) {
    try { process.kill(Number(readFileSync(pidfile, "utf8").trim()), "SIGKILL"); } catch { /* already gone */ }
  }
  rmSync(dir, { recursive: true, force: true });
});

// Root only, like CI: the script first installs missing Debian packages (apt-get), which needs root.
describe.skipIf(!haveQemu() || process.getuid?.() !== 0)("scripts/demo.sh", () => {
  test("start: a running node answering version and services; stop: powered off", async () => {
    const port = await freePort();
    const env = { DEMO_DIR: dir, DEMO_PORT: String(port) };
    const start = await demo([], env, 1_500_000);
    if (start.code !== 0) throw new Error(`demo.sh failed (${start.code}):\n${start.out}`);
    expect(start.out).toMatch(/MAINTENANCE\s*\n\S+\s+0\.1\.0.*\bno\s*$/m);
    expect(start.out).toMatch(/networkd\s+Running/);
    expect(start.out).toMatch(/apid\s+Running/);
    expect(start.out).toContain(`export BUNKERCONFIG=${dir}/bunkerconfig`);
    expect(start.out).toContain("bash scripts/demo.sh stop");

    const pid = Number(readFileSync(join(dir, "qemu.pid"), "utf8").trim());
    expect(() => process.kill(pid, 0)).not.toThrow();
    expect((await demo(["status"], env, 30_000)).out).toContain(`API on 127.0.0.1:${port}`);
    // The printed instructions work: the client config drives the node.
    expect(await ctlOk(["get", "addresses"], join(dir, "bunkerconfig"))).toContain("10.0.2.15/24");
    // A second start does not boot a second node.
    expect((await demo([], env, 30_000)).out).toContain("already running");

    const stop = await demo(["stop"], env, 120_000);
    expect(stop.code).toBe(0);
    expect(stop.out).toContain("shutting down");
    expect(stop.out).toContain("demo: stopped");
    expect(() => process.kill(pid, 0)).toThrow();
    expect(readFileSync(join(dir, "console.log"), "utf8")).toMatch(/reboot: Power down|\[bunker\] power: poweroff/);
  }, 1_800_000);
});
