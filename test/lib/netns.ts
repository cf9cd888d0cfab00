/**
 * Network namespaces for tests: created with unique names (pid + counter), deleted by the test.
 * Tests that need them skip, saying why, when not run as root or when `ip netns` is missing.
 */
import { eventually } from "./eventually.ts";

let counter = 0;

function canUseNetns(): string | null {
  if (process.getuid?.() !== 0) return "needs root to create network namespaces (CI runs as root)";
  if (!Bun.which("ip")) return "needs iproute2's `ip` to create network namespaces";
  return null;
}

/** null when namespaces can be used, else the reason tests skip. */
export const netnsSkipReason: string | null = canUseNetns();

export function sh(argv: string[], opts: { allowFail?: boolean } = {}): string {
  const p = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0 && !opts.allowFail) {
    throw new Error(`${argv.join(" ")} exited ${p.exitCode}: ${p.stderr.toString().trim()}`);
  }
  return p.stdout.toString();
}

export class Netns {
  readonly name: string;
  constructor(tag: string) {
    this.name = `bk${tag}${process.pid}x${counter++}`;
    sh(["ip", "netns", "add", this.name]);
    this.ip("link", "set", "lo", "up");
  }
  /** `ip -n NS args...`, its stdout. */
  ip(...args: string[]): string {
    return sh(["ip", "-n", this.name, ...args]);
  }
  /** `ip -j -n NS args...`, parsed. */
  ipJson<T = any>(...args: string[]): T {
    const out = sh(["ip", "-j", "-n", this.name, ...args]).trim();
    return (out ? JSON.parse(out) : []) as T;
  }
  /** Runs a command inside the namespace. */
  exec(argv: string[], opts: { allowFail?: boolean } = {}): string {
    return sh(["ip", "netns", "exec", this.name, ...argv], opts);
  }
  spawn(argv: string[]) {
    return Bun.spawn(["ip", "netns", "exec", this.name, ...argv], { stdout: "pipe", stderr: "pipe" });
  }
  delete(): void {
    sh(["ip", "netns", "del", this.name], { allowFail: true });
  }
}

/** Two namespaces joined by a veth pair: `a` side in nsA, `b` side in nsB. */
export function vethPair(nsA: Netns, nsB: Netns, a = "eth0", b = "eth0"): void {
  const tmpA = `vA${process.pid}x${counter}`, tmpB = `vB${process.pid}x${counter++}`;
  sh(["ip", "link", "add", tmpA, "type", "veth", "peer", "name", tmpB]);
  sh(["ip", "link", "set", tmpA, "netns", nsA.name]);
  sh(["ip", "link", "set", tmpB, "netns", nsB.name]);
  nsA.ip("link", "set", tmpA, "name", a);
  nsB.ip("link", "set", tmpB, "name", b);
}

/** Polls `cond` until it holds or `ms` pass; returns whether it held (eventually() by its older name). */
export function waitFor(cond: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  return eventually(cond, ms);
}

/** The MAC of a link inside a namespace, as bytes. */
export function macOf(ns: Netns, link: string): Uint8Array {
  const j = ns.ipJson<any[]>("link", "show", link)[0];
  return Uint8Array.from(String(j.address).split(":").map((x) => parseInt(x, 16)));
}

const probed = new Map<string, boolean>();
/** Whether this kernel can make links of a kind (802.1Q VLANs and bonding are often compiled out). */
export function kernelCanMake(kind: "vlan" | "bond" | "bridge"): boolean {
  if (netnsSkipReason) return false;
  if (!probed.has(kind)) {
    const ns = new Netns("probe");
    try {
      const args = kind === "vlan" ? ["link", "add", "link", "lo", "name", "p0", "type", "vlan", "id", "5"] : ["link", "add", "p0", "type", kind];
      probed.set(kind, Bun.spawnSync(["ip", "-n", ns.name, ...args], { stderr: "pipe" }).exitCode === 0);
    } finally {
      ns.delete();
    }
  }
  return probed.get(kind)!;
}
