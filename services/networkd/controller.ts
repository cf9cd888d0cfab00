/**
 * The network controller: inputs (kernel links, cmdline, machine config, DHCP leases) -> merged
 * spec -> reconcile with the kernel -> observed status. It runs a pass at start, whenever a
 * lease changes, when the kernel reports a change (the monitor), and every `intervalMs` as a
 * safety net. DHCP clients and time sync are started and stopped as the spec asks for them.
 */
import { Rtnl } from "../../core/netlink/rtnl.ts";
import type { NetlinkMonitor } from "../../core/netlink/monitor.ts";
import { RTPROT, RT_SCOPE } from "../../core/netlink/consts.ts";
import { DhcpClient, type Lease } from "../../core/dhcp/client.ts";
import { UdpTransport } from "../../core/dhcp/transport.ts";
import { TimeSync, type ClockAdjuster, type TimeStatus } from "../../core/sntp/client.ts";
import { getHostname, setHostname } from "../../core/sys/hostname.ts";
import { mergeLayers } from "./layers.ts";
import { reconcile } from "./reconcile.ts";
import { renderHosts, renderResolvConf, writeAtomic } from "./etcfiles.ts";
import { statusResources } from "./resources.ts";
import type { CmdlineLinks, CmdlineNetwork } from "./cmdline.ts";
import type { NetworkConfig } from "./config.ts";
import type { NetworkSpec, NetworkStatus } from "./types.ts";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** The safety-net pass's default period (ControllerOptions.intervalMs). */
export const DEFAULT_INTERVAL_MS = 60_000;

export interface ControllerOptions {
  nl: Rtnl;
  config?: NetworkConfig;
  cmdline?: CmdlineNetwork;
  cmdlineLinks?: CmdlineLinks;
  /** Writable directory for resolv.conf, hosts, status.json and owned-links.json. */
  stateDir: string;
  /**
   * The safety net's period (default 60 s): kernel changes already start a pass through the
   * monitor, and a node has no shell to change anything else. A pass is most of what networkd
   * does at idle (bench/results/idle.md), so it is not run more often than that needs.
   */
  intervalMs?: number;
  /** Sets the kernel hostname (needs CAP_SYS_ADMIN in the UTS namespace). */
  setHostname?: boolean;
  /**
   * Change nothing in the kernel's network (no links, addresses or routes made or removed, no
   * DHCP): only observe and publish. For a container-mode node that shares the host's network
   * namespace, where every address and route is the host's, not the node's.
   */
  observe?: boolean;
  clock?: ClockAdjuster;
  /** DHCP retransmission tuning (tests shorten it). */
  dhcp?: { initialTimeoutMs?: number; maxTimeoutMs?: number; idleMs?: number };
  log?: (line: string) => void;
  /** Kernel change notifications: a change starts a pass at once instead of at the next interval. */
  monitor?: NetlinkMonitor;
  /** How often the monitor's queue is read (default 250 ms). */
  monitorPollMs?: number;
  /** Opens the DHCP socket of a link (default: UdpTransport on it). */
  openTransport?: (ifname: string) => UdpTransport;
  /** Told the status after every pass and whenever the time status changes (publishing it). */
  onStatus?: (status: NetworkStatus) => void;
}

export class NetworkController {
  spec: NetworkSpec | null = null;
  status: NetworkStatus | null = null;
  private readonly dhcp = new Map<string, DhcpClient>();
  private readonly leases = new Map<string, Lease>();
  private readonly owned: Set<string>;
  private timeSync: TimeSync | null = null;
  private timeStatus: TimeStatus = { synced: false };
  private timer: ReturnType<typeof setTimeout> | null = null;
  private watch: ReturnType<typeof setInterval> | null = null;
  private running = false;
  private pass: Promise<void> | null = null;
  private again = false;
  private readonly log: (l: string) => void;
  passes = 0;
  private config: NetworkConfig | undefined;

  constructor(private readonly o: ControllerOptions) {
    this.log = o.log ?? (() => {});
    this.config = o.config;
    this.owned = new Set(readJson<string[]>(join(o.stateDir, "owned-links.json")) ?? []);
  }

  async start(): Promise<void> {
    this.running = true;
    await this.runPass();
    const m = this.o.monitor;
    if (m) {
      this.watch = setInterval(() => {
        let c;
        try {
          c = m.drain();
        } catch (e) {
          this.log(`networkd: monitor: ${(e as Error).message}`);
          return;
        }
        if (c.links || c.addresses || c.routes) void this.runPass();
      }, this.o.monitorPollMs ?? 250);
    }
  }

  /** Stops DHCP clients (releasing leases when asked) and time sync. */
  async stop(opts: { release?: boolean } = {}): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    if (this.watch) clearInterval(this.watch);
    await this.pass;
    await Promise.all([...this.dhcp.values()].map((c) => c.stop(opts).catch(() => undefined)));
    this.dhcp.clear();
    await this.timeSync?.stop();
  }

  /** A new machine config (an apply-config): the next pass, started now, applies it. */
  setConfig(config: NetworkConfig | undefined): Promise<void> {
    this.config = config;
    return this.runPass();
  }

  /** Runs a pass now (coalescing with one already running). */
  runPass(): Promise<void> {
    if (this.pass) {
      this.again = true;
      return this.pass;
    }
    this.pass = (async () => {
      do {
        this.again = false;
        try {
          await this.passOnce();
        } catch (e) {
          this.log(`networkd: pass failed: ${(e as Error).message}`);
        }
      } while (this.again && this.running);
    })().finally(() => {
      this.pass = null;
      if (this.running) {
        if (this.timer) clearTimeout(this.timer);
        this.timer = setTimeout(() => void this.runPass(), this.o.intervalMs ?? DEFAULT_INTERVAL_MS);
      }
    });
    return this.pass;
  }

  /** Resolves true once time is synced, false at the timeout (or when time sync is off). */
  waitTimeSynced(timeoutMs: number): Promise<boolean> {
    return this.timeSync ? this.timeSync.waitSynced(timeoutMs) : Promise.resolve(false);
  }

  private async passOnce(): Promise<void> {
    this.passes++;
    const nl = this.o.nl;
    const links = await nl.links();
    const now = Date.now();
    const leases = new Map([...this.leases].map(([k, l]) => [k, { ...l, remaining: l.leaseTime - (now - l.start) / 1000 }]));
    const inputs: Parameters<typeof mergeLayers>[0] = { links, leases };
    if (this.config) inputs.config = this.config;
    if (this.o.cmdline) inputs.cmdline = this.o.cmdline;
    if (this.o.cmdlineLinks) inputs.cmdlineLinks = this.o.cmdlineLinks;
    const spec = mergeLayers(inputs);
    this.spec = spec;

    const errors: string[] = [];
    if (!this.o.observe) {
      const res = await reconcile(nl, spec, this.owned);
      for (const c of res.changes) this.log(`networkd: ${c}`);
      for (const e of res.errors) this.log(`networkd: ${e}`);
      writeAtomic(this.o.stateDir, "owned-links.json", JSON.stringify([...this.owned].sort()) + "\n");
      await this.syncDhcp(spec);
      errors.push(...res.errors);
    }

    // Hostname.
    if (this.o.setHostname) {
      try {
        if (getHostname() !== spec.hostname.hostname) {
          setHostname(spec.hostname.hostname);
          this.log(`networkd: hostname ${spec.hostname.hostname} (${spec.hostname.layer})`);
        }
      } catch (e) {
        errors.push(`set hostname ${spec.hostname.hostname}: ${(e as Error).message}`);
      }
    }

    // resolv.conf and hosts.
    const v4 = (await nl.addresses(4)).find((a) => a.scope === RT_SCOPE.UNIVERSE);
    try {
      if (writeAtomic(this.o.stateDir, "resolv.conf", renderResolvConf(spec))) this.log(`networkd: resolv.conf: ${spec.resolvers.servers.join(", ")} (${spec.resolvers.layer})`);
      writeAtomic(this.o.stateDir, "hosts", renderHosts(spec, v4?.address));
    } catch (e) {
      errors.push(`write resolv.conf/hosts in ${this.o.stateDir}: ${(e as Error).message}`);
    }

    this.syncTime(spec);
    this.status = await this.observe(spec, errors);
    writeAtomic(this.o.stateDir, "status.json", JSON.stringify(this.status, null, 2) + "\n");
    // The same status as resources, for the store and `bunkerctl get links|addresses|routes|...`.
    writeAtomic(this.o.stateDir, "resources.json", JSON.stringify(statusResources(this.status), null, 2) + "\n");
    this.o.onStatus?.(this.status);
  }

  /** Starts a DHCP client on each link that wants one; stops the others (dropping their leases). */
  private async syncDhcp(spec: NetworkSpec): Promise<void> {
    const want = new Set(spec.links.filter((l) => l.dhcp).map((l) => l.name));
    for (const [name, c] of this.dhcp) {
      if (want.has(name)) continue;
      this.dhcp.delete(name);
      this.leases.delete(name);
      await c.stop({ release: true }).catch(() => undefined);
      this.log(`networkd: dhcp on ${name} stopped`);
      this.again = true;
    }
    const links = new Map((await this.o.nl.links()).map((l) => [l.name, l]));
    for (const name of want) {
      if (this.dhcp.has(name)) continue;
      const l = links.get(name);
      if (!l || !l.mac) continue;
      let transport: UdpTransport;
      try {
        transport = (this.o.openTransport ?? UdpTransport.open)(name);
      } catch (e) {
        this.log(`networkd: dhcp on ${name}: ${(e as Error).message}`);
        continue;
      }
      const client = new DhcpClient({
        ifname: name,
        mac: Uint8Array.from(l.mac.split(":").map((x) => parseInt(x, 16))),
        transport,
        ...(spec.hostname.layer === "config" ? { hostname: spec.hostname.hostname } : {}),
        ...this.o.dhcp,
        onChange: (lease, event) => {
          if (lease) this.leases.set(name, lease);
          else this.leases.delete(name);
          this.log(`networkd: dhcp ${event} on ${name}${lease ? `: ${lease.address}/${lease.prefixLen} from ${lease.serverId}, ${lease.leaseTime}s` : ""}`);
          if (this.running) void this.runPass();
        },
      });
      this.dhcp.set(name, client);
      client.start();
      this.log(`networkd: dhcp on ${name} started`);
    }
  }

  private syncTime(spec: NetworkSpec): void {
    if (spec.timeDisabled || !this.o.clock) {
      if (this.timeSync) void this.timeSync.stop();
      this.timeSync = null;
      return;
    }
    if (!this.timeSync) {
      this.timeSync = new TimeSync({
        servers: spec.timeServers.servers,
        clock: this.o.clock,
        onStatus: (s) => {
          const was = this.timeStatus.synced;
          this.timeStatus = s;
          if (s.synced && !was) this.log(`networkd: time synced from ${s.server} (offset ${s.offsetMs?.toFixed(1)} ms, ${s.action})`);
          if (this.status && (s.synced !== was || s.lastError !== this.status.timeStatus.lastError)) {
            this.status = { ...this.status, timeStatus: s };
            this.o.onStatus?.(this.status);
          }
        },
      });
      this.timeSync.start();
    } else if (this.timeSync && JSON.stringify(this.lastTimeServers) !== JSON.stringify(spec.timeServers.servers)) {
      this.timeSync.setServers(spec.timeServers.servers);
    }
    this.lastTimeServers = spec.timeServers.servers;
  }
  private lastTimeServers: string[] = [];

  private async observe(spec: NetworkSpec, errors: string[]): Promise<NetworkStatus> {
    const nl = this.o.nl;
    const links = await nl.links();
    const name = new Map(links.map((l) => [l.index, l.name]));
    const scopes: Record<number, string> = { 0: "global", 200: "site", 253: "link", 254: "host" };
    const protos: Record<number, string> = { [RTPROT.KERNEL]: "kernel", [RTPROT.BOOT]: "boot", [RTPROT.STATIC]: "static", [RTPROT.DHCP]: "dhcp", [RTPROT.RA]: "ra" };
    return {
      links: links.map((l) => {
        const s: NetworkStatus["links"][number] = { index: l.index, name: l.name, kind: l.kind ?? (l.hwType === 772 ? "loopback" : "physical"), up: l.up, carrier: l.carrier, operState: l.operState, mtu: l.mtu, mac: l.mac };
        if (l.master) s.master = name.get(l.master) ?? `#${l.master}`;
        if (l.vlanId !== undefined) s.vlanId = l.vlanId;
        if (l.parent) s.parent = name.get(l.parent) ?? `#${l.parent}`;
        if (l.bondMode) s.bondMode = l.bondMode;
        return s;
      }),
      addresses: (await nl.addresses()).map((a) => {
        const s: NetworkStatus["addresses"][number] = { link: name.get(a.index) ?? `#${a.index}`, address: `${a.address}/${a.prefixLen}`, family: a.family, scope: scopes[a.scope] ?? String(a.scope) };
        if (a.validLifetime !== undefined) s.validLifetime = a.validLifetime;
        return s;
      }),
      routes: (await nl.routes(0, 0)).filter((r) => r.table !== 255).map((r) => {
        const s: NetworkStatus["routes"][number] = { dst: r.dst, metric: r.priority ?? 0, table: r.table, protocol: protos[r.protocol] ?? String(r.protocol) };
        if (r.oif !== undefined) s.link = name.get(r.oif) ?? `#${r.oif}`;
        if (r.gateway) s.gateway = r.gateway;
        return s;
      }),
      hostname: spec.hostname.domain ? { hostname: spec.hostname.hostname, domain: spec.hostname.domain, layer: spec.hostname.layer } : { hostname: spec.hostname.hostname, layer: spec.hostname.layer },
      resolvers: { servers: spec.resolvers.servers, search: spec.resolvers.search },
      timeServers: { servers: spec.timeServers.servers },
      timeStatus: spec.timeDisabled || !this.o.clock ? { synced: false, disabled: true } : this.timeStatus,
      dhcp: [...this.dhcp].map(([link, c]) => {
        const s: NetworkStatus["dhcp"][number] = { link, state: c.state, malformed: c.stats.malformed };
        if (c.lease) Object.assign(s, { address: `${c.lease.address}/${c.lease.prefixLen}`, server: c.lease.serverId, leaseTime: c.lease.leaseTime });
        if (c.lastError) s.lastError = c.lastError;
        return s;
      }),
      errors,
    };
  }
}

function readJson<T>(path: string): T | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, "utf8")) as T;
  } catch {
    return undefined;
  }
}
