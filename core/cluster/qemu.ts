/**
 * The QEMU provisioner: each node is a VM (TCG, or KVM where asked) booted from the built image's
 * kernel and initrds (the etcd extension and the base initramfs, as a bootloader loads them), its NIC a tap on the bridge in the cluster's namespace (QEMU runs inside
 * that namespace, so its taps never touch the host's), its serial console in
 * nodes/NAME/console.log. Nodes boot into maintenance mode; dnsmasq, also inside the namespace,
 * gives each its planned address by MAC, so the address it has before its config is the one its
 * config names. The configs are applied through maintenance mode by the caller.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { EXTENSIONS, IMAGE_FILES } from "../image/layout.ts";
import { join } from "node:path";
import { consoleLog, nodeDir, spawnDetached, startForwarder, type Provision } from "./container.ts";
import { makeTapNetwork } from "./netsetup.ts";
import type { ClusterPlan } from "./plan.ts";
import { saveState } from "./state.ts";

export interface QemuImage {
  kernel: string;
  /** The initrds in the order a bootloader loads them: the extensions, then the base initramfs. */
  initrds: string[];
}

/** The image folder's boot files (rootfs/build writes vmlinuz, etcd.ext and initramfs.zst). */
export function imageFiles(dir: string): QemuImage {
  const kernel = join(dir, IMAGE_FILES.kernel);
  const initrd = join(dir, IMAGE_FILES.initramfs);
  for (const f of [kernel, initrd]) if (!existsSync(f)) throw new Error(`${f} is missing: build the image first (bun rootfs/build/main.ts --out ${dir}) or give --image DIR`);
  const extensions = EXTENSIONS.map((e) => join(dir, e.file)).filter((f) => existsSync(f));
  return { kernel, initrds: [...extensions, initrd] };
}

/**
 * The one file QEMU's -initrd takes: the initrds one after the other, as GRUB and iPXE put them
 * in memory (the kernel unpacks concatenated archives in turn). Written once into the cluster's folder.
 */
function oneInitrd(dir: string, initrds: string[]): string {
  if (initrds.length === 1) return initrds[0]!;
  const out = join(dir, "initrd.img");
  writeFileSync(out, Buffer.concat(initrds.map((f) => readFileSync(f))), { mode: 0o600 });
  return out;
}

/** A stable, locally administered MAC per node: 52:54:00 (QEMU's), then the cluster's third octet and the node's index. */
export function nodeMac(plan: ClusterPlan, index: number): string {
  const third = Number(plan.gateway.split(".")[2] ?? 0);
  return ["52", "54", "00", "b5", third.toString(16).padStart(2, "0"), (index + 2).toString(16).padStart(2, "0")].join(":");
}

/** 24 -> 255.255.255.0 */
const netmask = (prefix: number) => [0, 1, 2, 3].map((i) => 256 - 2 ** (8 - Math.max(0, Math.min(8, prefix - i * 8)))).join(".");

export interface QemuCreate extends Provision {
  image: QemuImage;
  memoryMiB: number;
  accel: "tcg" | "kvm";
}

export async function createQemuCluster(c: QemuCreate): Promise<void> {
  const { dir, state } = c;
  const plan = state.plan;
  const step = c.step ?? (() => undefined);
  if (!Bun.which("qemu-system-x86_64")) throw new Error("qemu-system-x86_64 is missing (apt-get install qemu-system-x86)");
  const dnsmasq = Bun.which("dnsmasq") ?? (existsSync("/usr/sbin/dnsmasq") ? "/usr/sbin/dnsmasq" : undefined);
  if (!dnsmasq) throw new Error("dnsmasq is missing (apt-get install dnsmasq-base): it gives the VMs their addresses");
  const chronyd = Bun.which("chronyd") ?? (existsSync("/usr/sbin/chronyd") ? "/usr/sbin/chronyd" : undefined);
  if (!chronyd) throw new Error("chronyd is missing (apt-get install chrony): it serves the VMs their time");
  step(`network ${plan.cidr}: bridge and ${plan.nodes.length} taps in namespace ${plan.netns}, gateway ${plan.gateway}`);
  makeTapNetwork(plan);
  const dhcp = spawnDetached(["ip", "netns", "exec", plan.netns, dnsmasq, "--keep-in-foreground", "--log-facility=-", "--conf-file=/dev/null", "--port=0",
    "--user=root", "--pid-file=", "--interface=br0", "--bind-interfaces", "--no-ping", "--dhcp-authoritative", `--dhcp-leasefile=${join(dir, "dnsmasq.leases")}`,
    `--dhcp-range=${plan.nodes[0]!.address},static,${netmask(plan.prefix)}`, `--dhcp-option=option:router,${plan.gateway}`,
    ...plan.nodes.map((n, i) => `--dhcp-host=${nodeMac(plan, i)},${n.address},${n.name}`)], join(dir, "dnsmasq.log"));
  step(`dnsmasq (pid ${dhcp}) gives each node its address by MAC`);
  // The nodes wait for synchronised time before they call themselves ready, and the cluster has
  // no way out to public servers: the gateway serves the host's clock (chronyd never sets it, -x).
  writeFileSync(join(dir, "chrony.conf"), [
    `bindaddress ${plan.gateway}`, `allow ${plan.cidr}`, "local stratum 8", "cmdport 0",
    `pidfile ${join(dir, "chronyd.pid")}`, `driftfile ${join(dir, "chrony.drift")}`, "",
  ].join("\n"));
  const ntp = spawnDetached(["ip", "netns", "exec", plan.netns, chronyd, "-x", "-d", "-f", join(dir, "chrony.conf")], join(dir, "chronyd.log"));
  step(`chronyd (pid ${ntp}) serves the host's time at ${plan.gateway}`);
  const initrd = oneInitrd(dir, c.image.initrds);
  plan.nodes.forEach((n, i) => {
    mkdirSync(nodeDir(dir, n.name), { recursive: true, mode: 0o700 });
    // Its own config, as container nodes keep theirs: the caller applies it through maintenance
    // mode, and applies it again to a VM powered off and on (it has no disk to keep it).
    writeFileSync(join(nodeDir(dir, n.name), "config.yaml"), c.configs.byNode.get(n.name)!, { mode: 0o600 });
    const argv = ["ip", "netns", "exec", plan.netns, "qemu-system-x86_64", "-accel", c.accel, "-cpu", "max", "-m", String(c.memoryMiB), "-smp", "1",
      // A guest reboot restarts the VM (bunkerctl reboot); a power-off ends QEMU.
      "-display", "none", "-monitor", "none", "-serial", `file:${consoleLog(dir, n.name)}`,
      // No display, so no one sees tty1: the dashboard on it is turned off, as it is most of
      // what an idle node does (bench/results/idle.md) and four VMs share the host's cores.
      "-kernel", c.image.kernel, "-initrd", initrd, "-append", "console=ttyS0,115200 bunker.dashboard=0",
      "-netdev", `tap,id=n0,ifname=${n.port},script=no,downscript=no`, "-device", `virtio-net-pci,netdev=n0,mac=${nodeMac(plan, i)}`];
    const pid = spawnDetached(argv, join(nodeDir(dir, n.name), "qemu.log"));
    state.nodes.push({ name: n.name, pid });
    saveState(dir, state);
    step(`${n.name} (${n.role}) at ${n.address}: QEMU started (${c.accel}, ${c.memoryMiB} MiB), pid ${pid}`);
  });
  // Every node gets a port: the configs go in through maintenance mode, the workers' too.
  await startForwarder(c, plan.nodes);
}
