import { expect, test } from "bun:test";
import { loadConfig } from "./load.ts";
import { DEFAULT_DEADLINE } from "./parsed.ts";
import { cidrOf, ipOf } from "../ip/ip.ts";
import { edit, fixture } from "./testdata/fixtures.ts";

const WK = fixture("worker.yaml");

test("the loader's parsed view: addresses and routes as core/ip values, durations in ms, sizes in bytes; the config keeps the text", () => {
  const text = edit(edit(WK, "        dhcp: true\n", `        addresses: [10.5.0.2/24, fd00::0002/64]
        routes: [{gateway: 10.5.0.1}, {network: 10.99.0.0/16, gateway: 10.5.0.254, metric: 10}, {gateway: "fd00::1"}]
    nameservers: [10.5.0.53]
    extraHostEntries: [{ip: 10.5.0.9, aliases: [db]}]
  time:
    bootTimeout: 1m30s
`), '      model: "QEMU*"\n', '      model: "QEMU*"\n    bootDeadline: 90s\n');
  const r = loadConfig(text);
  expect(r.errors).toEqual([]);
  const eth0 = r.parsed!.network.interfaces[0]!;
  expect(eth0.addresses).toEqual([cidrOf("10.5.0.2/24"), cidrOf("fd00::2/64")]);
  expect(eth0.routes).toEqual([
    { network: cidrOf("0.0.0.0/0"), gateway: ipOf("10.5.0.1"), metric: 1024, table: 254 },
    { network: cidrOf("10.99.0.0/16"), gateway: ipOf("10.5.0.254"), metric: 10, table: 254 },
    // Without a destination, the default route of the gateway's family.
    { network: cidrOf("::/0"), gateway: ipOf("fd00::1"), metric: 1024, table: 254 },
  ]);
  expect(r.parsed!.network.nameservers).toEqual([ipOf("10.5.0.53")]);
  expect(r.parsed!.network.extraHostEntries).toEqual([{ ip: ipOf("10.5.0.9"), aliases: ["db"] }]);
  expect(r.parsed!.network.time).toEqual({ disabled: false, servers: [], bootTimeoutMs: 90_000 });
  expect(r.parsed!.bootDeadline).toEqual({ text: "90s", ms: 90_000 });
  expect(r.parsed!.diskSelector).toEqual({ size: { op: ">=", bytes: 10e9, text: ">= 10GB" }, model: "QEMU*" });
  // What the operator wrote stays as written: the store, `get mc` and redaction show it.
  expect(r.config!.machine.network.interfaces[0]!.addresses).toEqual(["10.5.0.2/24", "fd00::0002/64"]);
  expect(r.config!.machine.install!.diskSelector!.size).toBe(">= 10GB");
});

test("defaults: the boot deadline without machine.install, and none of the view on a refused config", () => {
  const noInstall = loadConfig(edit(WK, '  install:\n    diskSelector:\n      size: ">= 10GB"\n      model: "QEMU*"\n', ""), { mode: "container" });
  expect(noInstall.errors).toEqual([]);
  expect(noInstall.parsed!.bootDeadline).toEqual(DEFAULT_DEADLINE);
  expect(DEFAULT_DEADLINE).toEqual({ text: "5m", ms: 300_000 });
  expect(noInstall.parsed!.diskSelector).toBeUndefined();
  expect(loadConfig(edit(WK, "10GB", "ten")).parsed).toBeUndefined();
});
