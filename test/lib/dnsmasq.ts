/** Debian's dnsmasq as the DHCP server inside a test namespace, with its lease file in a temp dir. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Netns } from "./netns.ts";

export const dnsmasqSkipReason: string | null = Bun.which("dnsmasq") ? null : "needs Debian's dnsmasq (apt-get install dnsmasq-base)";

export interface DnsmasqOptions {
  iface?: string;
  /** e.g. "10.42.0.10,10.42.0.20,255.255.255.0,2m" (dnsmasq's minimum lease is 2 minutes). */
  range: string;
  /** Extra --dhcp-option values, e.g. "option:T1,3". */
  options?: string[];
}

export class Dnsmasq {
  private proc: ReturnType<Netns["spawn"]> | null = null;
  private readonly dir = mkdtempSync(join(tmpdir(), "bunker-dnsmasq-"));
  log = "";

  constructor(private readonly ns: Netns, private readonly o: DnsmasqOptions) {}

  async start(): Promise<void> {
    const iface = this.o.iface ?? "eth0";
    this.proc = this.ns.spawn([
      "dnsmasq", "--keep-in-foreground", "--log-facility=-", "--conf-file=/dev/null", "--port=0", "--user=root", "--pid-file=",
      "--interface", iface, "--bind-interfaces", "--no-ping", "--dhcp-authoritative",
      `--dhcp-leasefile=${join(this.dir, "leases")}`, `--dhcp-range=${this.o.range}`,
      ...(this.o.options ?? []).map((o) => `--dhcp-option=${o}`),
    ]);
    // Ready when it says its DHCP socket is bound (bounded wait).
    const reader = this.proc.stderr.getReader();
    const deadline = Date.now() + 5000;
    while (!this.log.includes("DHCP, sockets bound") && Date.now() < deadline) {
      const chunk = await Promise.race([reader.read(), Bun.sleep(200).then(() => null)]);
      if (chunk && !chunk.done) this.log += new TextDecoder().decode(chunk.value);
      if (chunk?.done) break;
    }
    // Keep draining so dnsmasq never blocks on a full pipe.
    void (async () => {
      for (;;) {
        const c = await reader.read().catch(() => ({ done: true, value: undefined }));
        if (c.done) return;
        this.log += new TextDecoder().decode(c.value);
      }
    })();
    if (!this.log.includes("DHCP, sockets bound")) throw new Error(`dnsmasq did not start: ${this.log}`);
  }

  async stop(): Promise<void> {
    if (!this.proc) return;
    this.proc.kill();
    await this.proc.exited;
    this.proc = null;
  }

  /** Stops and forgets every lease, so a restarted server no longer knows the client. */
  async wipe(): Promise<void> {
    await this.stop();
    rmSync(join(this.dir, "leases"), { force: true });
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
