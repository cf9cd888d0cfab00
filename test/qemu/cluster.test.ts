/**
 * `bunkerctl cluster create --provisioner qemu` (TCG): three control planes and a worker as VMs
 * booted from a built image (its kernel, the etcd extension and the base initramfs, loaded as a
 * bootloader loads them), on taps in the cluster's namespace, configured through maintenance mode.
 * - The worker, a real machine here, gets its certificate from a control plane's trustd: openssl
 *   verifies it from inside the cluster network, and bunkerctl reaches it through a control plane.
 * - etcd comes from the image's extension, mounted on the control planes only (the worker lets it
 *   go): the first control plane is bootstrapped by create, the other two join by themselves, and
 *   etcdctl on the host sees three started members. A power cut of one control plane (SIGKILL of
 *   its VM): writes go on through the other two; powered on again, the VM (no disk: it comes back
 *   in maintenance mode) takes its config again and rejoins, and holds every key.
 * - Destroy leaves no VM, namespace or file behind.
 * One cluster serves every case: a QEMU boot is the costly part of the suite.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadClientConfig } from "../../core/clientconfig/clientconfig.ts";
import { realBinary, testImage } from "../image/fixture.ts";
import { netnsSkipReason } from "../lib/netns.ts";
import { ClusterHome } from "../lib/cluster-home.ts";
import { haveQemu } from "./runner.ts";
import { clusterEtcdCA, Etcdctl, etcdctlPath } from "../lib/etcdctl.ts";
import { waitFor } from "../lib/eventually.ts";
import { spawnDetached } from "../../core/cluster/container.ts";
import { loadState, saveState } from "../../core/cluster/state.ts";

const skip = !haveQemu() || netnsSkipReason !== null || !etcdctlPath;
const CPS = ["10.5.0.2", "10.5.0.3", "10.5.0.4"];
const WORKER = "10.5.0.5";
const name = `q${process.pid % 100000}`;
let work = "";
let bin = "";
let created = { code: -1, out: "", err: "" };

let home: ClusterHome;
let ec: Etcdctl;
const ctl = (...args: string[]) => home.ctl(...args);

describe.skipIf(skip)(`a QEMU cluster${skip ? " (skipped: needs qemu-system-x86_64, etcdctl and root for namespaces)" : ""}`, () => {
  beforeAll(async () => {
    home = new ClusterHome();
    work = home.root;
    bin = await realBinary();
    const image = await testImage(join(work, "image"), bin, { iso: false });
    created = await ctl("cluster", "create", "--provisioner", "qemu", "--image", image, "--name", name, "--controlplanes", "3", "--workers", "1", "--memory", "512MiB", "--wait", "--wait-timeout", "12m");
  }, 1_000_000);

  afterAll(async () => {
    if (existsSync(join(work, "clusters", name))) await ctl("cluster", "destroy", "--name", name);
    home.remove();
  }, 60_000);

  test("every VM takes its config through maintenance mode and the cluster ends healthy, etcd included", () => {
    // create's own words when it failed: the end of what it printed, errors first.
    if (created.code !== 0) throw new Error(`cluster create exited ${created.code}:\n${created.err}\n${created.out.split("\n").slice(-30).join("\n")}`);
    for (const n of [1, 2, 3]) expect(created.out).toContain(`${name}-controlplane-${n}: config applied through maintenance mode (certificate pinned)`);
    expect(created.out).toContain(`${name}-worker-1: config applied through maintenance mode (certificate pinned)`);
    expect(created.out).toContain(`cluster ${name} is healthy`);
  });

  test("the worker VM answers through the control plane, and openssl verifies its certificate against the cluster CA", async () => {
    const s = await ctl("-n", WORKER, "services");
    expect(s.err).toBe("");
    expect(s.out).toMatch(/10\.5\.0\.5 +apid +Running/);
    // The VMs have no display: create turned the dashboard off on their kernel command line.
    expect(s.out).toMatch(/10\.5\.0\.5 +dashboard +Skipped/);
    expect((await ctl("-n", WORKER, "service", "dashboard")).out).toContain("turned off on the kernel command line (bunker.dashboard=0)");
    const v = await ctl("-n", `${CPS[0]},${WORKER}`, "version", "-o", "json");
    expect((JSON.parse(v.out) as { hostname: string }[]).map((x) => x.hostname)).toEqual([`${name}-controlplane-1`, `${name}-worker-1`]);
    const caFile = join(work, "ca.crt");
    writeFileSync(caFile, Buffer.from(loadClientConfig(join(work, "bunkerconfig")).contexts[name]!.ca, "base64"));
    const p = Bun.spawnSync(["ip", "netns", "exec", `bunker-${name}`, "openssl", "s_client", "-connect", `${WORKER}:50000`, "-CAfile", caFile, "-verify_return_error", "-verify_ip", WORKER, "-brief"],
      { stdin: new TextEncoder().encode("Q\n"), stdout: "pipe", stderr: "pipe" });
    expect(p.stdout.toString() + p.stderr.toString()).toContain("Verification: OK");
  }, 60_000);

  test("etcd runs from the image's extension on the three control planes, and etcdctl sees three started members; the worker let it go", async () => {
    ec = new Etcdctl(`bunker-${name}`, work, clusterEtcdCA(join(work, "clusters", name)));
    const list = await waitFor(async () => {
      const m = await ec.startedVoters(CPS[0]!);
      return m.length === 3 ? m : undefined;
    }, { timeoutMs: 120_000, what: "three started voting members" });
    expect(list.flatMap((m) => m.peerURLs).sort()).toEqual(CPS.map((a) => `https://${a}:2380`));
    for (const cp of CPS) {
      const m = await ctl("-n", cp, "mounts", "-o", "json");
      expect(m.err).toBe("");
      const ext = (JSON.parse(m.out) as { mountPoint?: string; target?: string; source?: string; fstype?: string; type?: string }[])
        .map((x) => JSON.stringify(x)).filter((x) => x.includes("/ext/etcd"));
      expect(ext).toHaveLength(1);
      expect(ext[0]).toContain("squashfs");
      expect(ext[0]).toMatch(/dm-\d/);
    }
    const wm = await ctl("-n", WORKER, "mounts", "-o", "json");
    expect(wm.code).toBe(0);
    expect(wm.out).not.toContain("/ext/etcd");
    const ev = await ctl("-n", WORKER, "events");
    expect(ev.out).toContain("extension etcd released: this node does not need it");
  }, 180_000);

  test("a power cut of one control plane: writes go on through two; powered on and configured again, it rejoins and holds every key", async () => {
    await ec.putMany(CPS, "k", 300);
    const dir = join(work, "clusters", name);
    const st = loadState(dir)!;
    const node = st.nodes.find((n) => n.name === `${name}-controlplane-3`)!;
    const argv = readFileSync(`/proc/${node.pid!}/cmdline`, "utf8").split("\0").filter((x) => x !== "");
    expect(argv).toContain("qemu-system-x86_64");
    process.kill(node.pid!, "SIGKILL");
    const rest = CPS.slice(0, 2);
    await waitFor(async () => { await ec.putMany(rest, "down", 100); return true; }, { timeoutMs: 90_000, what: "writes through the two left" });
    for (const n of rest) expect(await ec.localCount(n, "k")).toBe(300);

    // Power on: the same VM (same MAC, so the same address), back in maintenance mode.
    node.pid = spawnDetached(["ip", "netns", "exec", `bunker-${name}`, ...argv], join(dir, "nodes", node.name, "qemu.log"));
    saveState(dir, st);
    const port = st.forwarder!.ports[node.name]!;
    const tries: string[] = [];
    await waitFor(async () => {
      // Through the forward to that VM; the context's default node does not apply with --insecure.
      const a = await ctl("apply-config", "--insecure", "-e", `127.0.0.1:${port}`, "-f", join(dir, "nodes", node.name, "config.yaml"));
      if (a.code === 0) return true;
      tries.push(a.err.trim() || a.out.trim());
      // A try whose answer was lost (the node leaves maintenance mode by restarting its API) may
      // still have applied: the VM has no disk, so out of maintenance mode it holds this config,
      // and the waits below check that it does by its rejoining.
      if (tries.length > 1 && /not in maintenance mode|already being committed/.test(tries.at(-1)!)) return true;
      throw new Error(tries.at(-1));
    }, { timeoutMs: 300_000, what: "the powered-on VM takes its config through maintenance mode" });
    if (tries.length) console.log(`apply-config tries before it took (or took without its answer):\n${[...new Set(tries)].join("\n")}`);
    const consoleLog = join(dir, "nodes", node.name, "qemu.log");
    const voters = await waitFor(async () => {
      const v = await ec.startedVoters(CPS[0]!);
      return v.length === 3 && v.some((m) => m.peerURLs.includes(`https://${CPS[2]}:2380`)) ? v : undefined;
    }, { timeoutMs: 300_000, what: "the powered-on control plane a voting member again" }).catch((err) => {
      // What the node itself said is the only record of why it did not rejoin: the cluster is destroyed after.
      const tail = existsSync(consoleLog) ? readFileSync(consoleLog, "utf8").split("\n").slice(-60).join("\n") : "(no console log)";
      throw new Error(`${err instanceof Error ? err.message : String(err)}\nthe node's console, last lines:\n${tail}`);
    });
    expect(voters).toHaveLength(3);
    await waitFor(async () => ((await ec.localCount(CPS[2]!, "down")) === 100 ? true : undefined), { timeoutMs: 120_000, what: "the rejoined member holds the writes it missed" });
    expect(await ec.localCount(CPS[2]!, "k")).toBe(300);
  }, 900_000);

  test("destroy stops the VMs, the DHCP and time servers and the forwarder, and removes everything", async () => {
    const d = await ctl("cluster", "destroy", "--name", name);
    expect(d.code).toBe(0);
    expect(Bun.spawnSync(["ip", "netns", "list"]).stdout.toString()).not.toContain(`bunker-${name}`);
    const ours = readdirSync("/proc").filter((p) => /^\d+$/.test(p)).filter((p) => {
      try { return readFileSync(`/proc/${p}/cmdline`, "utf8").includes(join(work, "clusters", name)) || readFileSync(`/proc/${p}/cmdline`, "utf8").includes(`bunker-${name}`); } catch { return false; }
    });
    expect(ours).toEqual([]);
    expect(existsSync(join(work, "clusters", name))).toBe(false);
  }, 60_000);
});
