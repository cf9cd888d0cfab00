import { expect, test } from "bun:test";
import { ADDRESS_STATUSES, type AddressStatusSpec } from "../../core/netresources/kinds.ts";
import { Store } from "../../core/resources/index.ts";
import { bannerLines, watchBanner } from "./banner.ts";
import { ManualClock } from "../../core/time/clock.ts";
import { MACHINE_STAGE } from "./resources.ts";

test("maintenance: the address to dial and the apply-config command line", () => {
  const l = bannerLines({ stage: "maintenance", addresses: [{ link: "eth0", address: "10.0.2.15/24" }], listen: "0.0.0.0:50000" });
  expect(l[0]).toBe("==== node in maintenance mode ====");
  expect(l).toContain("addresses: eth0 10.0.2.15/24");
  expect(l).toContain("API: apid listens on 0.0.0.0:50000 (reach it as 10.0.2.15:50000)");
  expect(l).toContain("  bunkerctl apply-config --insecure -e 10.0.2.15:50000 -f controlplane.yaml");
});

test("running on a fixed listen address, no global address yet", () => {
  const l = bannerLines({ stage: "running", addresses: [], listen: "[fd00::1]:50001" });
  expect(l).toContain("addresses: none yet (waiting for DHCP or a static address)");
  expect(l).toContain("API: apid listens on [fd00::1]:50001 (reach it as [fd00::1]:50001)");
  expect(l.some((x) => x.includes("bunkerctl config endpoint [fd00::1]:50001"))).toBe(true);
  expect(l.some((x) => x.includes("--insecure"))).toBe(false);
});

test("watchBanner prints once per settled state: stage and global addresses, not link-local or loopback", () => {
  const store = new Store();
  const printed: string[] = [];
  // The settle time passes on a clock the test moves: each step is exact, however loaded the machine.
  const clock = new ManualClock();
  const stop = watchBanner(store, "0.0.0.0:50000", (l) => printed.push(l), 20, undefined, clock);
  const addr = (id: string, spec: AddressStatusSpec) => store.create({ ...ADDRESS_STATUSES, id }, spec, { owner: "networkd" });
  try {
    store.create(MACHINE_STAGE, { stage: "booting" }, { owner: "sequencer" });
    clock.advance(20);
    expect(printed).toEqual([]); // still booting: nothing to tell yet
    store.modify(MACHINE_STAGE, () => ({ stage: "maintenance" }), { owner: "sequencer" });
    addr("lo/127.0.0.1/8", { link: "lo", address: "127.0.0.1/8", family: 4, scope: "host" });
    addr("eth0/fe80::1/64", { link: "eth0", address: "fe80::1/64", family: 6, scope: "link" });
    clock.advance(19);
    expect(printed).toEqual([]); // not settled yet: the last change restarted the wait
    clock.advance(1);
    expect(printed.filter((l) => l.startsWith("===="))).toHaveLength(1);
    expect(printed).toContain("addresses: none yet (waiting for DHCP or a static address)");
    addr("eth0/10.0.2.15/24", { link: "eth0", address: "10.0.2.15/24", family: 4, scope: "global" });
    clock.advance(20);
    expect(printed).toContain("addresses: eth0 10.0.2.15/24");
    const count = printed.length;
    store.modify(MACHINE_STAGE, () => ({ stage: "maintenance" }), { owner: "sequencer" }); // same state again
    clock.advance(20);
    expect(printed.length).toBe(count);
  } finally {
    stop();
  }
});

test("maintenance with the certificate's fingerprint: both spellings, and the apply-config line pins it", () => {
  const fp = "ab".repeat(32);
  const l = bannerLines({ stage: "maintenance", addresses: [{ link: "eth0", address: "10.0.2.15/24" }], listen: "0.0.0.0:50000", fingerprint: fp });
  const b64 = Buffer.from(fp, "hex").toString("base64").replace(/=$/, "");
  expect(l).toContain(`certificate: SHA-256 fingerprint ${"AB:".repeat(31)}AB`);
  expect(l).toContain(`             SHA256:${b64}`);
  expect(l).toContain(`  bunkerctl apply-config --insecure -e 10.0.2.15:50000 -f controlplane.yaml --fingerprint SHA256:${b64}`);
  // Running: a CA vouches for the certificate; no fingerprint shown.
  expect(bannerLines({ stage: "running", addresses: [], listen: "0.0.0.0:50000", fingerprint: fp }).some((x) => x.includes("SHA256:"))).toBe(false);
});

test("watchBanner shows the served certificate's fingerprint in maintenance mode only", () => {
  const store = new Store();
  const printed: string[] = [];
  const clock = new ManualClock();
  const stop = watchBanner(store, "0.0.0.0:50000", (l) => printed.push(l), 20, () => Buffer.alloc(32, 0xcd), clock);
  try {
    store.create(MACHINE_STAGE, { stage: "maintenance" }, { owner: "sequencer" });
    clock.advance(20);
    expect(printed).toContain(`certificate: SHA-256 fingerprint ${"CD:".repeat(31)}CD`);
    printed.length = 0;
    store.modify(MACHINE_STAGE, () => ({ stage: "running" }), { owner: "sequencer" });
    clock.advance(20);
    expect(printed[0]).toBe("==== node running ====");
    expect(printed.some((x) => x.includes("fingerprint"))).toBe(false);
  } finally {
    stop();
  }
});
