/**
 * The end-to-end scenario: the real image boots in QEMU (TCG, -cpu max) and is driven from the
 * host with the compiled bunkerctl through a hostfwd port, as an operator would. Both ways a
 * config reaches a node: `bunker.config=URL` on the kernel command line (served here on
 * 127.0.0.1, which QEMU's user network shows the guest as 10.0.2.2), and maintenance mode with
 * `apply-config --insecure`. Then the ISO on BIOS and UEFI and iPXE: boot, API, shutdown.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KERNEL_CMDLINE } from "../../core/image/layout.ts";
import { realBinary, testImage } from "../image/fixture.ts";
import { freePort, haveQemu, withQemu, type Qemu, type QemuOptions } from "../qemu/runner.ts";
import { ctl, ctlOk, genCluster, waitForApi, withHostname, type Cluster } from "./node.ts";
import { eventually } from "../lib/eventually.ts";

const BOOT_MS = 240_000;
let work = "";
let img = "";

beforeAll(async () => {
  if (!haveQemu()) return;
  work = mkdtempSync(join(tmpdir(), "e2e-"));
  img = await testImage(join(work, "image"), await realBinary());
}, 900_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

const direct = (append = ""): QemuOptions => ({ kernel: join(img, "vmlinuz"), initrd: join(img, "initramfs.zst"), append: `${KERNEL_CMDLINE}${append}` });

/** Powers the node off through the API; QEMU must then exit by itself with status 0. */
async function shutdown(q: Qemu, args: string[], bunkerconfig?: string): Promise<void> {
  const out = await ctlOk(["shutdown", ...args], bunkerconfig);
  expect(out).toContain("shutting down");
  expect(await q.waitExit(120_000)).toBe(0);
  // The kernel's line, or init's just before it: under load the kernel's console may drop characters.
  expect(q.find(/reboot: Power down|\[bunker\] power: poweroff/)).toBeDefined();
}

/** The console's boot log: each line once, the banner with the address, the API and the next step. */
async function checkBanner(q: Qemu, stage: "running" | "maintenance"): Promise<void> {
  const banner = q.find(stage === "running" ? "==== node running ====" : "==== node in maintenance mode ====");
  expect(banner).toBeDefined();
  // Printed again when the DHCP lease arrives after the stage is reached; the last line ends it.
  await q.waitFor(stage === "running" ? "bunkerctl config endpoint 10.0.2.15:50000" : "bunkerctl apply-config --insecure -e 10.0.2.15:50000 -f controlplane.yaml", 60_000);
  expect(q.find("addresses: eth0 10.0.2.15/24")).toBeDefined();
  expect(q.find("API: apid listens on 0.0.0.0:50000 (reach it as 10.0.2.15:50000)")).toBeDefined();
  // init writes the console itself; the kernel's echo of its kmsg lines is turned down.
  expect(q.lines.filter((l) => l.text.includes("init starting: mode metal")).length).toBe(1);
}

/** version, services, logs, dmesg, get links/addresses, a live hostname change. */
async function driveNode(c: Cluster, newHostname: string): Promise<void> {
  const version = await ctlOk(["version", "-o", "json"], c.bunkerconfig);
  expect(version).toContain('"kernel"');
  expect(version).toMatch(/"maintenance":\s*false/);

  const services = await ctlOk(["services"], c.bunkerconfig);
  expect(services).toMatch(/apid\s+Running/);
  expect(services).toMatch(/networkd\s+Running/);

  expect(await ctlOk(["logs", "networkd"], c.bunkerconfig)).toContain("dhcp bound on eth0: 10.0.2.15/24");
  expect(await ctlOk(["dmesg"], c.bunkerconfig)).toMatch(/Linux version 6\.|\[bunker\] init starting: mode metal/);
  expect(await ctlOk(["get", "links"], c.bunkerconfig)).toMatch(/eth0\s+\d+\s+physical\s+true/);
  expect(await ctlOk(["get", "addresses"], c.bunkerconfig)).toContain("10.0.2.15/24");

  const applied = await ctlOk(["apply-config", "--mode", "live", "-f", withHostname(c.controlplane, newHostname, join(c.dir, "renamed.yaml"))], c.bunkerconfig);
  expect(applied).toContain("applied live");
  expect(applied).toMatch(/machine\.network\.hostname\s+added\s+live/);
  expect(await ctlOk(["get", "hostname"], c.bunkerconfig)).toMatch(new RegExp(`${newHostname}\\s+config`));
}

describe.skipIf(!haveQemu())("a node in QEMU driven through its API", () => {
  test("config from the kernel command line: drive it, rename it live, reboot, shut down", async () => {
    const port = await freePort();
    const c = await genCluster(join(work, "cmdline"), port);
    let fetched = 0;
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req) {
        if (new URL(req.url).pathname !== "/controlplane.yaml") return new Response("not found", { status: 404 });
        fetched++;
        return new Response(Bun.file(c.controlplane));
      },
    });
    try {
      const append = ` bunker.config=http://10.0.2.2:${server.port}/controlplane.yaml`;
      await withQemu({ ...direct(append), hostfwd: [{ host: port, guest: 50000 }], allowReboot: true }, async (q) => {
        await q.waitFor("==== node running ====", BOOT_MS);
        await q.waitFor("API: apid listens", 10_000);
        await checkBanner(q, "running");
        expect(q.find("network up for the config fetch: eth0 10.0.2.15/24")).toBeDefined();
        expect(fetched).toBe(1);
        await waitForApi({ bunkerconfig: c.bunkerconfig, port }, 60_000);
        await driveNode(c, "e2e-renamed");

        // Reboot: the VM restarts (no -no-reboot), the node fetches its config again and answers.
        expect(await ctlOk(["reboot"], c.bunkerconfig)).toContain("rebooting");
        await q.waitFor(/reboot: Restarting system|\[bunker\] power: reboot/, 120_000);
        const firstStarts = q.lines.filter((l) => l.text.includes("init starting")).length;
        await eventually(() => q.lines.filter((l) => l.text.includes("==== node running ====")).length >= 2, BOOT_MS, 500);
        expect(q.lines.filter((l) => l.text.includes("==== node running ====")).length).toBe(2);
        expect(firstStarts).toBe(1);
        expect(fetched).toBe(2);
        expect(await waitForApi({ bunkerconfig: c.bunkerconfig, port }, 60_000)).toContain("127.0.0.1");

        await shutdown(q, [], c.bunkerconfig);
      });
    } finally {
      server.stop(true);
    }
  }, 3 * BOOT_MS + 300_000);

  test("maintenance mode, then apply-config --insecure: drive it, rename it live, shut down", async () => {
    const port = await freePort();
    const c = await genCluster(join(work, "maintenance"), port);
    await withQemu({ ...direct(), hostfwd: [{ host: port, guest: 50000 }] }, async (q) => {
      await q.waitFor("==== node in maintenance mode ====", BOOT_MS);
      await q.waitFor("bunkerctl apply-config --insecure", 10_000);
      await checkBanner(q, "maintenance");
      const v = await waitForApi({ port, insecure: true }, 60_000);
      expect(v).toMatch(/MAINTENANCE\s*\n.*\byes\s*$/m);
      // Without the cluster's client certificate and in maintenance, only the maintenance calls.
      const refused = await ctl(["services", "--insecure", "-e", `127.0.0.1:${port}`]);
      expect(refused.code).not.toBe(0);

      const applied = await ctlOk(["apply-config", "--insecure", "-e", `127.0.0.1:${port}`, "-f", c.controlplane]);
      expect(applied).toContain("applied");
      await q.waitFor("==== node running ====", 60_000);
      await waitForApi({ bunkerconfig: c.bunkerconfig, port }, 60_000);
      // The node named by its own address (as an operator's config would): apid serves it itself.
      expect(await ctlOk(["version", "-n", "10.0.2.15"], c.bunkerconfig)).toMatch(/^10\.0\.2\.15\s+0\.1\.0/m);
      await driveNode(c, "e2e-maint");
      await shutdown(q, [], c.bunkerconfig);
    });
  }, 2 * BOOT_MS + 120_000);

  /**
   * Other boot paths: boot to maintenance, `version --insecure` from the host, apply the config
   * (maintenance mode refuses power calls), version over mTLS, shutdown.
   */
  async function bootVersionShutdown(o: QemuOptions, name: string): Promise<void> {
    const port = await freePort();
    const c = await genCluster(join(work, name), port);
    await withQemu({ ...o, hostfwd: [{ host: port, guest: 50000 }] }, async (q) => {
      await q.waitFor("==== node in maintenance mode ====", BOOT_MS);
      expect(await waitForApi({ port, insecure: true }, 60_000)).toContain("x64");
      await ctlOk(["apply-config", "--insecure", "-e", `127.0.0.1:${port}`, "-f", c.controlplane]);
      expect(await waitForApi({ bunkerconfig: c.bunkerconfig, port }, 60_000)).toMatch(/\bno\s*$/m);
      await shutdown(q, [], c.bunkerconfig);
    });
  }

  test("ISO on BIOS: boot, version, shutdown", async () => {
    await bootVersionShutdown({ cdrom: join(img, "bunker.iso") }, "bios");
  }, BOOT_MS + 180_000);

  test("ISO on UEFI (OVMF): boot, version, shutdown", async () => {
    await bootVersionShutdown({ cdrom: join(img, "bunker.iso"), uefi: true }, "uefi");
  }, BOOT_MS + 180_000);

  test("iPXE over QEMU's TFTP: boot, version, shutdown", async () => {
    const tftp = join(work, "tftp");
    mkdirSync(tftp, { recursive: true });
    for (const f of ["boot.ipxe", "vmlinuz", "initramfs.zst"]) copyFileSync(join(img, f), join(tftp, f));
    await bootVersionShutdown({ tftp: { dir: tftp, bootfile: "boot.ipxe" } }, "ipxe");
  }, BOOT_MS + 180_000);
});
