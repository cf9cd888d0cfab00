/**
 * networkd as init runs it: init in container mode inside a network namespace the test makes,
 * with a veth pair, the built-in service table and a machine config. networkd (uid 52, four
 * capabilities) gets its config from init over the socket and publishes links, addresses,
 * routes, hostname, resolvers and time into init's store, where the API reads them.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { bunker } from "../core/api/gen/api.js";
import { MachineService, ResourcePublisher, ResourceService } from "../core/api/gen/services.ts";
import type { GrpcClient } from "../core/grpc/client.ts";
import { GrpcError, statusName } from "../core/grpc/status.ts";
import { ADDRESS_STATUSES, type AddressStatusSpec, type HostnameSpecSpec, type LinkStatusSpec, type NetworkStatusSpec, type TimeStatusSpec } from "../core/netresources/kinds.ts";
import { getSpec, initClient } from "../services/init/api/client.ts";
import type { HostnameSpec } from "../services/init/resources.ts";
import type { ServiceStatus } from "../services/init/service.ts";
import { API_GROUP, NETWORKD_UID } from "../services/init/table.ts";
import { Dnsmasq, dnsmasqSkipReason } from "./lib/dnsmasq.ts";
import { workerConfig } from "./lib/machineconfig.ts";
import { Netns, netnsSkipReason, vethPair, waitFor } from "./lib/netns.ts";

const root = resolve(import.meta.dir, "..");
const bin = join(root, "out/bunker");
const skip = netnsSkipReason ?? (existsSync(bin) ? null : "out/bunker not built (scripts/test.sh builds it)");

const config = (hostname: string, address: string) => workerConfig(`  network:
    hostname: ${hostname}
    interfaces:
      - interface: eth0
        addresses: [${address}]
`);

describe.skipIf(skip !== null)(`networkd under init${skip ? ` (skipped: ${skip})` : ""}`, () => {
  let node: Netns, peer: Netns, dir: string, init: ReturnType<typeof Bun.spawn>, c: GrpcClient;
  const kernelAddrs = () => node.ipJson<any[]>("addr", "show", "dev", "eth0")[0].addr_info.filter((a: any) => a.scope === "global").map((a: any) => `${a.local}/${a.prefixlen}`);
  const eventually = async (what: string, cond: () => boolean | Promise<boolean>, ms = 10_000) => {
    if (!(await waitFor(cond, ms))) throw new Error(`not within ${ms} ms: ${what}`);
  };

  beforeAll(async () => {
    node = new Netns("ni");
    peer = new Netns("np");
    vethPair(node, peer);
    peer.ip("link", "set", "eth0", "up");
    dir = mkdtempSync(join(tmpdir(), "bunker-netinit-"));
    // mkdtemp makes it 0700: init itself must let networkd's uid through to the socket.
    writeFileSync(join(dir, "machine.yaml"), config("node1.lab.test", "10.5.0.2/24"));
    init = Bun.spawn(["ip", "netns", "exec", node.name, bin, "init", "--mode=container", "--manage-network", "--state-dir", dir, "--config", join(dir, "machine.yaml"), "--api-listen", "127.0.0.1:50000"], {
      stdin: "ignore", stdout: "ignore", stderr: Bun.file(join(dir, "init.log")),
    });
    await eventually("init's socket", () => existsSync(join(dir, "init.sock")));
    c = initClient(join(dir, "init.sock"));
  }, 20_000);

  afterAll(async () => {
    c?.close();
    // A clean shutdown: init stops networkd (SIGTERM: it releases what it holds) and exits 11.
    init?.kill("SIGTERM");
    const code = await Promise.race([init?.exited, Bun.sleep(20_000).then(() => "still running")]);
    init?.kill("SIGKILL");
    node?.delete();
    peer?.delete();
    const log = dir ? await Bun.file(join(dir, "init.log")).text().catch(() => "") : "";
    if (dir) rmSync(dir, { recursive: true, force: true });
    expect(code).toBe(11);
    // networkd ended on SIGTERM by itself, well inside its grace period.
    expect(log).toContain("service networkd: Finished: stopped");
    expect(log).not.toContain("service networkd: Stopping: grace period");
  }, 30_000);

  test("a static address from the config is in the kernel and, published by networkd, in the API", async () => {
    await eventually("the Address resource", async () => (await getSpec(c, "addresses", "eth0/10.5.0.2/24")) !== undefined);
    expect(await getSpec<AddressStatusSpec>(c, "addresses", "eth0/10.5.0.2/24")).toEqual({ link: "eth0", address: "10.5.0.2/24", family: 4, scope: "global" });
    expect(kernelAddrs()).toEqual(["10.5.0.2/24"]);
    const r = await c.unary(ResourceService.Get, { type: "addresses", id: "eth0/10.5.0.2/24" });
    expect(r.resource?.metadata?.owner).toBe("networkd");
    expect(await getSpec<LinkStatusSpec>(c, "links", "eth0")).toMatchObject({ name: "eth0", up: true, carrier: true });
    await eventually("network online", async () => (await getSpec<NetworkStatusSpec>(c, "networkstatus", "status"))?.online === true);
    // Container mode never touches the host clock: the time status says it is not managed.
    // networkd publishes kind by kind, so the time status may land a moment after the network's.
    await eventually("the time status", async () => (await getSpec(c, "timestatus", "node")) !== undefined);
    expect(await getSpec<TimeStatusSpec>(c, "timestatus", "node")).toEqual({ synced: false, disabled: true });
    await eventually("the hostname", async () => (await getSpec<HostnameSpec>(c, "hostname", "hostname"))?.source === "config");
    expect(await getSpec<HostnameSpec>(c, "hostname", "hostname")).toEqual({ hostname: "node1", domainname: "lab.test", source: "config" });
    // networkd runs as its own uid with only its capabilities.
    const svc = await getSpec<ServiceStatus>(c, "svc", "networkd");
    const status = await Bun.file(`/proc/${svc!.pid}/status`).text();
    expect(status).toMatch(new RegExp(`^Uid:\\t${NETWORKD_UID}\\t`, "m"));
    expect(status).toMatch(new RegExp(`^Gid:\\t${API_GROUP}\\t`, "m"));
    const want = [10, 12, 13, 25].reduce((m, b) => m | (1n << BigInt(b)), 0n).toString(16).padStart(16, "0");
    expect(/^CapEff:\t(\w+)$/m.exec(status)?.[1]).toBe(want);
  }, 20_000);

  test("a live apply-config changing the hostname and the address updates the Hostname and Address resources", async () => {
    const res = await c.unary(MachineService.ApplyConfiguration, {
      data: new TextEncoder().encode(config("node2.lab.test", "10.5.0.3/24")), mode: bunker.machine.v1.ApplyMode.APPLY_MODE_LIVE,
    });
    expect(res.mode).toBe(bunker.machine.v1.ApplyMode.APPLY_MODE_LIVE);
    await eventually("hostname node2", async () => (await getSpec<HostnameSpec>(c, "hostname", "hostname"))?.hostname === "node2");
    expect(await getSpec<HostnameSpec>(c, "hostname", "hostname")).toEqual({ hostname: "node2", domainname: "lab.test", source: "config" });
    // networkd itself saw the new config: the hostname it wants, and the new address.
    await eventually("networkd's HostnameSpec", async () => (await getSpec<HostnameSpecSpec>(c, "hostnamespec", "hostname"))?.hostname === "node2");
    await eventually("address 10.5.0.3 published, 10.5.0.2 gone", async () =>
      (await getSpec(c, "addresses", "eth0/10.5.0.3/24")) !== undefined && (await getSpec(c, "addresses", "eth0/10.5.0.2/24")) === undefined);
    expect(kernelAddrs()).toEqual(["10.5.0.3/24"]);
  }, 20_000);

  test("killing networkd gets it restarted by the supervisor, and the new process publishes", async () => {
    const before = (await getSpec<ServiceStatus>(c, "svc", "networkd"))!;
    expect(before.state).toBe("Running");
    process.kill(before.pid!, "SIGKILL");
    await eventually("networkd running again", async () => {
      const s = await getSpec<ServiceStatus>(c, "svc", "networkd");
      return s?.state === "Running" && s.pid !== before.pid && s.restarts > before.restarts;
    });
    // Only a running networkd can tell: the config says nothing about the MTU, so the new value
    // stays in the kernel and reaches the API through the restarted process.
    node.ip("link", "set", "eth0", "mtu", "1400");
    await eventually("eth0 MTU 1400 published", async () => (await getSpec<LinkStatusSpec>(c, "links", "eth0"))?.mtu === 1400);
  }, 20_000);

  test("resource writes from any uid but networkd's are refused", async () => {
    const put = (spec: string) => ({ ...ADDRESS_STATUSES, resource: { id: "eth0/192.0.2.1/24", specJson: spec } });
    // root (the console) is admin on the socket, yet no publisher.
    const e = await c.unary(ResourcePublisher.Put, put("{}")).catch((x) => x);
    expect(e).toBeInstanceOf(GrpcError);
    expect(`${statusName((e as GrpcError).code)}: ${(e as GrpcError).details}`).toBe("PERMISSION_DENIED: uid 0 publishes no resources (only the uids of services that declare what they publish may)");
    // Another uid, in the socket's group so the file mode lets it connect: refused by SO_PEERCRED.
    const other = Bun.spawnSync([process.execPath, join(root, "test/lib/publish-as.ts"), join(dir, "init.sock"), ADDRESS_STATUSES.namespace, ADDRESS_STATUSES.type, "eth0/192.0.2.1/24", "{}"], {
      uid: 65534, gid: API_GROUP, cwd: root, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, TMPDIR: dir }, stderr: "pipe",
    });
    expect(other.stdout.toString().trim()).toBe("PERMISSION_DENIED: uid 65534 may not use init's socket (only root, init's uid, apid's, the dashboard's and those of publishing services)");
    expect(await getSpec(c, "addresses", "eth0/192.0.2.1/24")).toBeUndefined();
  }, 20_000);

  test.skipIf(dnsmasqSkipReason !== null)(`with DHCP and no hostname in the config, the lease and the DHCP hostname reach the API (init sets the name networkd chose)${dnsmasqSkipReason ? ` (skipped: ${dnsmasqSkipReason})` : ""}`, async () => {
    peer.ip("addr", "add", "10.5.0.1/24", "dev", "eth0");
    const server = new Dnsmasq(peer, { range: "10.5.0.10,10.5.0.20,255.255.255.0,2m", options: ["12,leasedname", "option:domain-name,lab.test", "option:router,10.5.0.1"] });
    await server.start();
    try {
      await c.unary(MachineService.ApplyConfiguration, {
        data: new TextEncoder().encode(workerConfig("  network:\n    interfaces:\n      - interface: eth0\n        dhcp: true\n")),
        mode: bunker.machine.v1.ApplyMode.APPLY_MODE_LIVE,
      });
      // The socket on port 68, bound to the device: networkd's ambient capabilities at work.
      await eventually("a leased Address resource", async () => {
        const r = await c.unary(ResourceService.List, { type: "addresses" });
        return (r.resources ?? []).some((x) => /^eth0\/10\.5\.0\.(1\d|20)\/24$/.test(x.metadata?.id ?? ""));
      }, 20_000);
      expect(kernelAddrs()).toEqual([expect.stringMatching(/^10\.5\.0\.(1\d|20)\/24$/)]);
      // apid's certificate follows: the leased address, which came after apid started, is a SAN.
      const leased = kernelAddrs()[0]!.split("/")[0]!;
      const sans = () => Bun.spawnSync(["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", join(dir, "apid", "server.crt")]).stdout.toString();
      await eventually(`IP Address:${leased} in apid's certificate`, () => sans().includes(`IP Address:${leased}`));
      expect(readFileSync(join(dir, "init.log"), "utf8")).toContain("node addresses changed: apid's certificate is re-issued to name them");
      await eventually("the DHCP hostname", async () => (await getSpec<HostnameSpec>(c, "hostname", "hostname"))?.source === "dhcp");
      expect(await getSpec<HostnameSpec>(c, "hostname", "hostname")).toEqual({ hostname: "leasedname", domainname: "lab.test", source: "dhcp" });
      expect(await getSpec(c, "routes", "inet4/main/0.0.0.0/0/10.5.0.1/eth0/1024")).toMatchObject({ protocol: "dhcp" });
    } finally {
      await server.dispose();
    }
  }, 40_000);
});
