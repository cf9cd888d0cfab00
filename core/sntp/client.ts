/**
 * SNTP queries over Bun's UDP sockets, and TimeSync: it polls the configured servers, steps the
 * clock when it is far off and slews it when near, and keeps a TimeStatus that services can wait
 * on ("time synced") with a timeout.
 */
import { lookup } from "node:dns/promises";
import { decodeReply, encodeRequest, SntpError, type SntpSample } from "./packet.ts";
import { realtimeMs } from "../sys/clock.ts";

export const NTP_PORT = 123;

/** "host", "host:port", "[v6]:port" -> host and port. */
export function parseServer(s: string): { host: string; port: number } {
  const v6 = /^\[(.+)\](?::(\d+))?$/.exec(s);
  if (v6) return { host: v6[1]!, port: v6[2] ? Number(v6[2]) : NTP_PORT };
  const colon = s.lastIndexOf(":");
  if (colon > 0 && s.indexOf(":") === colon) return { host: s.slice(0, colon), port: Number(s.slice(colon + 1)) };
  return { host: s, port: NTP_PORT };
}

/**
 * The local clock as SNTP compares it with the server's: the realtime clock itself, so that the
 * offset measured after a step is the offset left (a monotonic reading would keep reporting the
 * old offset and step the clock again at every poll).
 */
const nowMs = realtimeMs;

/** One SNTP exchange with `server`; throws SntpError (with the server named) on any failure. */
export async function querySntp(server: string, timeoutMs = 2000): Promise<SntpSample & { server: string }> {
  const { host, port } = parseServer(server);
  let ip: string;
  try {
    ip = (await lookup(host)).address;
  } catch (e) {
    throw new SntpError(`time server ${server}: cannot resolve ${host}: ${(e as Error).message}`);
  }
  let resolveReply!: (v: { buf: Uint8Array; t4: number } | Error) => void;
  const reply = new Promise<{ buf: Uint8Array; t4: number } | Error>((r) => (resolveReply = r));
  const sock = await Bun.udpSocket({
    hostname: ip.includes(":") ? "::" : "0.0.0.0",
    socket: {
      data(_s, buf, rport, raddr) {
        // Only the server we asked may answer.
        if (rport === port && raddr === ip) resolveReply({ buf: new Uint8Array(buf), t4: nowMs() });
      },
      // ICMP port unreachable and the like arrive here: nobody listens at that address.
      error(_s, err) {
        resolveReply(err);
      },
    },
  });
  try {
    const req = encodeRequest(nowMs());
    sock.send(req, port, ip);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const got = await Promise.race([reply, new Promise<null>((r) => (timer = setTimeout(() => r(null), timeoutMs)))]);
    clearTimeout(timer);
    if (!got) throw new SntpError(`time server ${server}: no answer within ${timeoutMs} ms`);
    if (got instanceof Error) throw new SntpError(`time server ${server}: ${got.message}`);
    try {
      return { ...decodeReply(got.buf, req, got.t4), server };
    } catch (e) {
      throw new SntpError(`time server ${server}: ${(e as Error).message}`);
    }
  } finally {
    sock.close();
  }
}

/** What TimeSync did last; the TimeStatus resource. */
export interface TimeStatus {
  synced: boolean;
  /** The server of the last good sample. */
  server?: string;
  offsetMs?: number;
  delayMs?: number;
  /** How the last correction was applied. */
  action?: "step" | "slew" | "none";
  lastSync?: string;
  lastError?: string;
}

/** How the clock is corrected (the system clock in networkd; a recorder in tests). */
export interface ClockAdjuster {
  step(offsetMs: number): void;
  slew(offsetMs: number): void;
  /** Optional: tell the kernel the clock is now synchronised. */
  synced?(maxErrorMs: number): void;
}

export interface TimeSyncOptions {
  servers: string[];
  clock: ClockAdjuster;
  /** Step when |offset| exceeds this; slew below it (default 400 ms, as Talos does). */
  stepThresholdMs?: number;
  /** Below this the clock is left alone (default 1 ms). */
  ignoreBelowMs?: number;
  pollMs?: number;
  /** Poll interval while not synced yet (default 2 s). */
  retryMs?: number;
  queryTimeoutMs?: number;
  onStatus?: (s: TimeStatus) => void;
}

export class TimeSync {
  status: TimeStatus = { synced: false };
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running = false;
  private waiters: (() => void)[] = [];
  private servers: string[];
  private busy: Promise<void> | null = null;

  constructor(private readonly o: TimeSyncOptions) {
    this.servers = [...o.servers];
  }

  /** Replaces the server list (config or DHCP changed it) and polls at once. */
  setServers(servers: string[]): void {
    this.servers = [...servers];
    if (this.running) this.schedule(0);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.busy;
  }

  /** Resolves true once synced, false when timeoutMs passes first (boot goes on, with a warning). */
  waitSynced(timeoutMs: number): Promise<boolean> {
    if (this.status.synced) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(t);
        resolve(true);
      };
      this.waiters.push(done);
    });
  }

  /** One poll: ask servers in order until one answers; correct the clock from its sample. */
  async pollOnce(): Promise<TimeStatus> {
    const errors: string[] = [];
    for (const server of this.servers) {
      let s: Awaited<ReturnType<typeof querySntp>>;
      try {
        s = await querySntp(server, this.o.queryTimeoutMs ?? 2000);
      } catch (e) {
        errors.push((e as Error).message);
        continue;
      }
      const abs = Math.abs(s.offsetMs);
      let action: TimeStatus["action"] = "none";
      try {
        if (abs > (this.o.stepThresholdMs ?? 400)) {
          this.o.clock.step(s.offsetMs);
          action = "step";
        } else if (abs >= (this.o.ignoreBelowMs ?? 1)) {
          this.o.clock.slew(s.offsetMs);
          action = "slew";
        }
        this.o.clock.synced?.(abs + s.delayMs / 2);
      } catch (e) {
        errors.push(`adjust clock from ${server}: ${(e as Error).message}`);
        break;
      }
      this.update({ synced: true, server, offsetMs: s.offsetMs, delayMs: s.delayMs, action, lastSync: new Date().toISOString() });
      return this.status;
    }
    this.update({ ...this.status, lastError: errors.join("; ") || "no time servers configured" });
    return this.status;
  }

  private update(s: TimeStatus): void {
    this.status = s;
    this.o.onStatus?.(s);
    if (s.synced) {
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    }
  }

  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.busy = this.pollOnce().then(
        () => {
          this.busy = null;
          if (this.running) this.schedule(this.status.synced ? (this.o.pollMs ?? 64000) : (this.o.retryMs ?? 2000));
        },
        () => { this.busy = null; },
      );
    }, ms);
  }
}
