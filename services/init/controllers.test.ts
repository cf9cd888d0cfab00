import { expect, test } from "bun:test";
import { loadConfig } from "../../core/config/config.ts";
import { fixture } from "../../core/config/testdata/fixtures.ts";
import { ControllerRuntime, Store } from "../../core/resources/index.ts";
import {
  ADDRESS_STATUSES, HOSTNAME_SPEC, LINK_STATUSES, NETWORK_CONFIG, NETWORK_STATUS, ROUTE_STATUSES, TIME_STATUS,
} from "../../core/netresources/kinds.ts";
import { ManualClock } from "../../core/time/clock.ts";
import { nextTurn } from "../../test/lib/eventually.ts";
import { timeSynced } from "./conditions.ts";
import { hostnameController, machineStatusController, networkConfigController, networkStatusController } from "./controllers.ts";
import { ETCD_STATUS, HOSTNAME, MACHINE_CONFIG, MACHINE_STAGE, MACHINE_STATUS, SERVICES, type MachineStatusSpec } from "./resources.ts";

const NETWORKD = "networkd"; // what networkd's writes carry as owner

function machine() {
  const store = new Store();
  const rt = new ControllerRuntime(store);
  for (const c of [machineStatusController, networkConfigController, networkStatusController, hostnameController("bunker-default")]) rt.register(c);
  const put = (ref: { namespace: string; type: string; id: string }, spec: unknown, owner = NETWORKD) => store.modify(ref, () => spec, { owner });
  return { store, rt, put };
}

const eth0 = { index: 2, name: "eth0", kind: "physical", up: true, carrier: true, operState: "up", mtu: 1500, mac: "02:00:00:00:00:02" };

test("network online: a global address on a link that is up with carrier; loopback and link-local do not count", async () => {
  const { store, rt, put } = machine();
  await rt.idle();
  expect(store.get(NETWORK_STATUS)!.spec).toEqual({ online: false, reason: "networkd has published no links yet", addresses: [], defaultRoute: false });
  put({ ...LINK_STATUSES, id: "lo" }, { ...eth0, index: 1, name: "lo", kind: "loopback" });
  put({ ...LINK_STATUSES, id: "eth0" }, { ...eth0, carrier: false });
  put({ ...ADDRESS_STATUSES, id: "lo/127.0.0.1/8" }, { link: "lo", address: "127.0.0.1/8", family: 4, scope: "host" });
  put({ ...ADDRESS_STATUSES, id: "eth0/fe80::2/64" }, { link: "eth0", address: "fe80::2/64", family: 6, scope: "link" });
  put({ ...ADDRESS_STATUSES, id: "eth0/10.5.0.2/24" }, { link: "eth0", address: "10.5.0.2/24", family: 4, scope: "global" });
  await rt.idle();
  expect(store.get(NETWORK_STATUS)!.spec).toMatchObject({ online: false, reason: "no global address on a link that is up with carrier" });
  put({ ...LINK_STATUSES, id: "eth0" }, eth0);
  put({ ...ROUTE_STATUSES, id: "default" }, { dst: "0.0.0.0/0", gateway: "10.5.0.1", link: "eth0", metric: 1024, table: 254, protocol: "static" });
  await rt.idle();
  expect(store.get(NETWORK_STATUS)!.spec).toEqual({ online: true, reason: "address 10.5.0.2/24 on eth0", addresses: ["10.5.0.2/24 on eth0"], defaultRoute: true });
  rt.stop();
});

test("MachineStatus lists network and time only where networkd runs", async () => {
  const { store, rt, put } = machine();
  store.create(MACHINE_STAGE, { stage: "running" });
  store.create(MACHINE_CONFIG, { raw: "", source: "test", config: { machine: { network: { hostname: "n1" }, time: { servers: ["10.0.0.1"] } } } });
  await rt.idle();
  expect(store.get<MachineStatusSpec>(MACHINE_STATUS)!.spec).toEqual({ stage: "running", ready: true, unmetConditions: [] });
  store.create({ ...SERVICES, id: "networkd" }, { state: "Running", running: true, restarts: 0, dependsOn: [], description: "", events: [] }, { owner: "supervisor" });
  await rt.idle();
  expect(store.get<MachineStatusSpec>(MACHINE_STATUS)!.spec.unmetConditions.map((u) => u.name)).toEqual(["network", "time"]);
  put({ ...LINK_STATUSES, id: "eth0" }, eth0);
  put({ ...ADDRESS_STATUSES, id: "eth0/10.5.0.2/24" }, { link: "eth0", address: "10.5.0.2/24", family: 4, scope: "global" });
  put(TIME_STATUS, { synced: false, lastError: "no answer from 10.0.0.1" });
  await rt.idle();
  expect(store.get<MachineStatusSpec>(MACHINE_STATUS)!.spec.unmetConditions).toEqual([{ name: "time", reason: "not synchronised: no answer from 10.0.0.1" }]);
  put(TIME_STATUS, { synced: true, server: "10.0.0.1" });
  await rt.idle();
  expect(store.get<MachineStatusSpec>(MACHINE_STATUS)!.spec.ready).toBe(true);
  rt.stop();
});

test("the hostname: the config's wins, else networkd's DHCP or cmdline name, else init's default", async () => {
  const { store, rt, put } = machine();
  await rt.idle();
  expect(store.get(HOSTNAME)!.spec).toEqual({ hostname: "bunker-default", domainname: "", source: "default" });
  // networkd's first status carries its own guess (from a MAC): the node's name must not change (#14).
  put(HOSTNAME_SPEC, { hostname: "bunker-525400", layer: "default" });
  await rt.idle();
  expect(store.get(HOSTNAME)!.spec).toEqual({ hostname: "bunker-default", domainname: "", source: "default" });
  put(HOSTNAME_SPEC, { hostname: "from-cmdline", layer: "cmdline" });
  await rt.idle();
  expect(store.get(HOSTNAME)!.spec).toEqual({ hostname: "from-cmdline", domainname: "", source: "cmdline" });
  put(HOSTNAME_SPEC, { hostname: "leased", domain: "lab.test", layer: "dhcp" });
  await rt.idle();
  expect(store.get(HOSTNAME)!.spec).toEqual({ hostname: "leased", domainname: "lab.test", source: "dhcp" });
  store.create(MACHINE_CONFIG, { raw: "", source: "test", config: { machine: { network: { hostname: "n1.example" } } } });
  await rt.idle();
  expect(store.get(HOSTNAME)!.spec).toEqual({ hostname: "n1", domainname: "example", source: "config" });
  rt.stop();
});

test("networkd's config resource holds machine.network and machine.time only, and goes with the config", async () => {
  const { store, rt } = machine();
  const config = loadConfig(fixture("controlplane.yaml")).config!;
  store.create(MACHINE_CONFIG, { raw: "", source: "test", config });
  await rt.idle();
  // Typed as loadConfig made them (defaults in): networkd maps them without checking them again.
  expect(store.get(NETWORK_CONFIG)!.spec).toEqual({ network: config.machine.network, time: config.machine.time });
  const text = JSON.stringify(store.get(NETWORK_CONFIG)!.spec);
  for (const secret of [config.machine.token, config.machine.ca.key!, config.cluster.secret]) expect(text).not.toContain(secret);
  store.destroy(MACHINE_CONFIG);
  await rt.idle();
  expect(store.get(NETWORK_CONFIG)).toBeUndefined();
  rt.stop();
});

test("time synced: met when synced or not managed; with a timeout, boot goes on and is told", async () => {
  const store = new Store();
  const signal = new AbortController().signal;
  store.create(TIME_STATUS, { synced: false, disabled: true });
  await timeSynced(store).wait(signal); // disabled counts as met
  store.update(TIME_STATUS, { synced: false });
  // The timeout runs on a ManualClock: not met 1 ms before it, met at it.
  const clock = new ManualClock();
  let timedOut = false;
  let met = false;
  const timing = timeSynced(store, 50, () => { timedOut = true; }, clock).wait(signal).then(() => { met = true; });
  expect(clock.pending()).toEqual([50]);
  clock.advance(49);
  await nextTurn(); // let any reaction to the clock run
  expect({ timedOut, met }).toEqual({ timedOut: false, met: false });
  clock.advance(1);
  await timing;
  expect(timedOut).toBe(true);
  expect(clock.pending()).toEqual([]);
  const waiting = timeSynced(store).wait(signal);
  let done = false;
  void waiting.then(() => { done = true; });
  // An end in answer to the update above would have come by the next turn.
  await nextTurn();
  expect(done).toBe(false);
  store.update(TIME_STATUS, { synced: true });
  await waiting;
});

test("MachineStatus: etcd counts while a control plane joins or is stuck, not while it waits for a bootstrap", async () => {
  const { store, rt, put } = machine();
  store.create(MACHINE_STAGE, { stage: "running" });
  store.create(MACHINE_CONFIG, { raw: "", source: "test", config: {} });
  put(ETCD_STATUS, { phase: "waiting", message: "no running etcd member to join" }, "init");
  await rt.idle();
  expect(store.get<MachineStatusSpec>(MACHINE_STATUS)!.spec.ready).toBe(true);
  put(ETCD_STATUS, { phase: "joining", message: "x", unmet: "https://10.5.0.2:2379 did not add this node: too many learner members in cluster; next attempt in 4 s" }, "init");
  await rt.idle();
  expect(store.get<MachineStatusSpec>(MACHINE_STATUS)!.spec).toEqual({
    stage: "running", ready: false,
    unmetConditions: [{ name: "etcd", reason: "https://10.5.0.2:2379 did not add this node: too many learner members in cluster; next attempt in 4 s" }],
  });
  put(ETCD_STATUS, { phase: "member", message: "member 1 of 3" }, "init");
  await rt.idle();
  expect(store.get<MachineStatusSpec>(MACHINE_STATUS)!.spec.ready).toBe(true);
});
