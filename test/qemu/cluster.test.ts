/**
 * `bunkerctl cluster create --provisioner qemu` (TCG): a control plane and a worker as VMs booted
 * from a built image, on taps in the cluster's namespace, configured through maintenance mode.
 * The worker, a real machine here, gets its certificate from the control plane's trustd: openssl
 * verifies it from inside the cluster network, and bunkerctl reaches it through the control
 * plane. Destroy leaves no VM, namespace or file behind.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadClientConfig } from "../../core/clientconfig/clientconfig.ts";
import { realBinary, testImage } from "../image/fixture.ts";
import { netnsSkipReason } from "../lib/netns.ts";
import { ClusterHome } from "../lib/cluster-home.ts";
import { haveQemu } from "./runner.ts";

const skip = !haveQemu() || netnsSkipReason !== null;
const name = `q${process.pid % 100000}`;
let work = "";
let bin = "";
let created = { code: -1, out: "", err: "" };

let home: ClusterHome;
const ctl = (...args: string[]) => home.ctl(...args);

describe.skipIf(skip)(`a QEMU cluster${skip ? " (skipped: needs qemu-system-x86_64 and root for namespaces)" : ""}`, () => {
  beforeAll(async () => {
    home = new ClusterHome();
    work = home.root;
    bin = await realBinary();
    const image = await testImage(join(work, "image"), bin, { iso: false });
    created = await ctl("cluster", "create", "--provisioner", "qemu", "--image", image, "--name", name, "--controlplanes", "1", "--workers", "1", "--memory", "512MiB", "--wait", "--wait-timeout", "8m");
  }, 900_000);

  afterAll(async () => {
    if (existsSync(join(work, "clusters", name))) await ctl("cluster", "destroy", "--name", name);
    home.remove();
  }, 60_000);

  test("both VMs take their configs through maintenance mode and the cluster ends healthy", () => {
    expect(created.code).toBe(0);
    expect(created.out).toContain(`${name}-controlplane-1: config applied through maintenance mode (certificate pinned)`);
    expect(created.out).toContain(`${name}-worker-1: config applied through maintenance mode (certificate pinned)`);
    expect(created.out).toContain(`cluster ${name} is healthy`);
  });

  test("the worker VM answers through the control plane, and openssl verifies its certificate against the cluster CA", async () => {
    const s = await ctl("-n", "10.5.0.3", "services");
    expect(s.err).toBe("");
    expect(s.out).toMatch(/10\.5\.0\.3 +apid +Running/);
    const v = await ctl("-n", "10.5.0.2,10.5.0.3", "version", "-o", "json");
    expect((JSON.parse(v.out) as { hostname: string }[]).map((x) => x.hostname)).toEqual([`${name}-controlplane-1`, `${name}-worker-1`]);
    const caFile = join(work, "ca.crt");
    writeFileSync(caFile, Buffer.from(loadClientConfig(join(work, "bunkerconfig")).contexts[name]!.ca, "base64"));
    const p = Bun.spawnSync(["ip", "netns", "exec", `bunker-${name}`, "openssl", "s_client", "-connect", "10.5.0.3:50000", "-CAfile", caFile, "-verify_return_error", "-verify_ip", "10.5.0.3", "-brief"],
      { stdin: new TextEncoder().encode("Q\n"), stdout: "pipe", stderr: "pipe" });
    expect(p.stdout.toString() + p.stderr.toString()).toContain("Verification: OK");
  }, 60_000);

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
