/**
 * VLANs, bonds and the system clock on Bunker's own kernel: the host's kernel here has neither
 * 802.1Q nor bonding, and a test may not move the host's clock. A QEMU guest (three virtio NICs)
 * boots the image's kernel with an initramfs holding the pre-init shim, the stand-in PID 1 of
 * fixtures/net-guest.ts and iproute2's `ip` with its libraries; the guest does the work and
 * prints our view and `ip -j`'s, and the assertions are made here.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeCpio, type CpioEntry } from "../../core/image/cpio.ts";
import { KERNEL_CMDLINE } from "../../core/image/layout.ts";
import { buildPreinit, payloadOf, sharedLibraries } from "../../rootfs/build/rootfs.ts";
import { fixtureBinary, kernel, repo } from "../image/fixture.ts";
import { haveQemu, withQemu } from "./runner.ts";

const BOOT_MS = 240_000;
const IP = "/usr/sbin/ip";
const results = new Map<string, any>();
let console_ = "";
let work = "";

beforeAll(async () => {
  if (!haveQemu()) return;
  work = mkdtempSync(join(tmpdir(), "bunker-net-guest-"));
  const guest = await fixtureBinary("net-guest");
  const files = [...(await payloadOf(guest)), { image: IP.slice(1), source: IP }, ...(await sharedLibraries(IP))];
  const seen = new Set<string>();
  const entries: CpioEntry[] = [
    { path: "init", type: "file", mode: 0o755, source: await buildPreinit(join(repo, "rootfs/preinit/preinit.c"), { unverified: true }) },
    { path: "dev/console", type: "char", mode: 0o600, major: 5, minor: 1 },
    ...["proc", "sys", "run", "tmp"].map((d): CpioEntry => ({ path: d, type: "dir" })),
    ...files.filter((f) => !seen.has(f.image) && seen.add(f.image)).map((f): CpioEntry => ({ path: f.image, type: "file", mode: 0o755, source: f.source })),
  ];
  const initrd = join(work, "net-guest.cpio");
  writeCpio(initrd, entries);
  const nic = (n: number) => ["-netdev", `user,id=n${n}`, "-device", `virtio-net-pci,netdev=n${n}`];
  await withQemu({ kernel: await kernel(), initrd, append: KERNEL_CMDLINE, memoryMiB: 1024, extraArgs: [...nic(1), ...nic(2)] }, async (q) => {
    await q.waitFor("GUEST-DONE", BOOT_MS);
    await q.waitExit(30_000);
    console_ = q.output();
    for (const l of q.lines) {
      const m = l.text.match(/GUEST-RESULT (\S+) (.*)$/);
      if (m) results.set(m[1]!, JSON.parse(m[2]!));
    }
  });
}, BOOT_MS + 180_000);
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A result the guest reported; a step that threw fails here with the guest's reason and console. */
function result(name: string): any {
  const err = results.get(`${name}-error`) ?? results.get("fatal");
  if (err !== undefined) throw new Error(`the guest's ${name} step failed: ${err}\nconsole:\n${console_.split("\n").slice(-40).join("\n")}`);
  if (!results.has(name)) throw new Error(`the guest reported no ${name}\nconsole:\n${console_.split("\n").slice(-40).join("\n")}`);
  return results.get(name);
}

describe.skipIf(!haveQemu())("in a QEMU guest on Bunker's kernel", () => {
  test("the link list matches ip -j link, the three virtio NICs included", () => {
    const { ours, ip } = result("links");
    expect(ours).toEqual(ip);
    expect(ours.map((l: unknown[]) => l[1])).toEqual(expect.arrayContaining(["lo", "eth0", "eth1", "eth2"]));
  });

  test("a VLAN made over rtnetlink matches ip -j -d link, and is gone once deleted", () => {
    const { ip, ours, after } = result("vlan");
    expect(ip).toEqual(["vlan", 100, "eth1"]);
    expect(ours).toEqual(["vlan", 100, "eth1"]);
    expect(after).not.toContain("eth1.100");
  });

  test("bonds (active-backup, 802.3ad) made over rtnetlink match ip -j -d link", () => {
    const { modes, after } = result("bond");
    expect(modes).toEqual([
      { mode: "active-backup", ip: ["bond", "active-backup", 100], ours: ["bond", "active-backup", 100] },
      { mode: "802.3ad", ip: ["bond", "802.3ad", 100], ours: ["bond", "802.3ad", 100] },
    ]);
    expect(after).not.toContain("bond1");
  });

  test("networkd builds a bond of two links (remaking the kernel's own balance-rr bond0) with a VLAN and its address from the config, and tears them down when the config drops them", () => {
    const { built, after } = result("networkd");
    expect(built).toEqual({ bond: ["bond", "active-backup", 100], masters: ["bond0", "bond0"], vlan: ["vlan", 42, "bond0"], vlanAddrs: ["10.42.0.2/24"] });
    expect(after.links).not.toContain("bond0");
    expect(after.links).not.toContain("bond0.42");
    expect(after.eth1Master).toBeNull();
  });

  test("the kernel command line alone (bond=, vlan=, ip=) gives an 802.3ad bond of two NICs, a VLAN on it and a static address with its gateway", () => {
    expect(result("cmdline")).toEqual({
      bond: ["bond", "802.3ad", 100], masters: ["bond0", "bond0"], vlan: ["vlan", 7, "bond0"], vlanAddrs: ["10.7.0.2/24"], defaultRoute: [["10.7.0.1", "bond0.7"]],
    });
  });

  test("SNTP against a server an hour ahead steps the real clock onto it and marks the kernel's clock synchronised", () => {
    const s = result("clock-step");
    expect(s.action).toBe("step");
    expect(Math.abs(s.offsetMs - 3_600_000)).toBeLessThan(5_000);
    // After the step the guest's clock and the server's agree to within the round trip (loopback).
    expect(Math.abs(s.behindServerMs)).toBeLessThan(1_000);
    expect(s.kernelSynced).toBe(true);
  });

  test("SNTP against a server 200 ms ahead slews: the kernel holds the adjustment still to apply", () => {
    const s = result("clock-slew");
    expect(s.action).toBe("slew");
    expect(s.offsetMs).toBeGreaterThan(100);
    expect(s.offsetMs).toBeLessThan(400);
    // The kernel slews 0.5 ms per second: nearly all of it is still pending right after.
    expect(s.pendingUs).toBeGreaterThan(50_000);
    expect(s.pendingUs).toBeLessThanOrEqual(Math.round(s.offsetMs * 1000));
  });
});
