/**
 * A DHCPv4 client state machine (RFC 2131): INIT -> SELECTING -> REQUESTING -> BOUND ->
 * RENEWING (unicast at T1) -> REBINDING (broadcast at T2) -> expiry. It only speaks DHCP; what a
 * lease means for the kernel is the caller's business, told through `onChange`.
 *
 * Every wait is bounded: retransmissions back off from `initialTimeoutMs` doubling to
 * `maxTimeoutMs`, `maxAttempts` per exchange, then the client idles and starts over. Packets
 * that do not decode are counted in `stats.malformed` and dropped.
 */
import {
  BOOTREPLY, BOOTREQUEST, DhcpDecodeError, FLAG_BROADCAST, MSG, MSG_NAMES, OPT, REQUESTED_PARAMS,
  decodePacket, encodePacket, leaseOf, messageType, type DhcpPacket, type LeaseInfo,
} from "./packet.ts";
import { ipOf } from "../ip/ip.ts";
import type { DhcpTransport } from "./transport.ts";
import { doublingDelay } from "../time/backoff.ts";
import { systemClock, type Clock } from "../time/clock.ts";

export type DhcpState = "init" | "selecting" | "requesting" | "bound" | "renewing" | "rebinding" | "stopped";
export type DhcpEvent = "bound" | "renewed" | "rebound" | "nak" | "expired" | "released";

export interface Lease extends LeaseInfo {
  /** Epoch ms when the lease started (the REQUEST that got the ACK was sent). */
  start: number;
}

export interface DhcpClientOptions {
  ifname: string;
  mac: Uint8Array;
  transport: DhcpTransport;
  /** Sent in option 12 so the server can register it. */
  hostname?: string;
  /** Called on every lease change; a null lease means the address must go. */
  onChange: (lease: Lease | null, event: DhcpEvent) => void | Promise<void>;
  initialTimeoutMs?: number;
  maxTimeoutMs?: number;
  maxAttempts?: number;
  /** Pause after a round that got no answer at all, before DISCOVER again. */
  idleMs?: number;
  /** What every wait and lease time is read from (tests pass a ManualClock and a transport that waits by it). */
  clock?: Clock;
}

export interface DhcpStats {
  sent: number;
  received: number;
  malformed: number;
  /** Well-formed packets not for us (other xid, other client, unexpected type). */
  ignored: number;
}

export class DhcpClient {
  state: DhcpState = "init";
  lease: Lease | null = null;
  readonly stats: DhcpStats = { sent: 0, received: 0, malformed: 0, ignored: 0 };
  /** The last socket error (a link going down makes sends fail); the client retries regardless. */
  lastError: string | null = null;
  private stopped = false;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private readonly o: Required<Omit<DhcpClientOptions, "hostname">> & { hostname?: string };

  constructor(opts: DhcpClientOptions) {
    this.o = { initialTimeoutMs: 4000, maxTimeoutMs: 64000, maxAttempts: 5, idleMs: 30000, clock: systemClock, ...opts };
  }

  /** Starts the state machine in the background; errors from the transport end it and are rethrown by stop(). */
  start(): void {
    this.loop ??= this.run();
  }

  /** Stops; with release, a bound client tells the server it gives the address back. */
  async stop(opts: { release?: boolean } = {}): Promise<void> {
    this.stopped = true;
    this.wake?.();
    this.o.transport.interrupt();
    await this.loop?.catch(() => undefined);
    if (opts.release && this.lease) {
      try {
        this.o.transport.send(encodePacket(this.packet(MSG.RELEASE, rand32(), { ciaddr: this.lease.address, serverId: this.lease.serverId })), this.lease.serverId);
        this.stats.sent++;
      } catch {
        // The link may already be gone; the server will expire the lease itself.
      }
      this.lease = null;
      await this.o.onChange(null, "released");
    }
    this.state = "stopped";
    await this.o.transport.close();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const got = await this.acquire();
      if (!got) {
        if (!this.stopped) await this.sleep(this.o.idleMs);
        continue;
      }
      await this.setLease(got, "bound");
      await this.keep();
    }
  }

  /** SELECTING + REQUESTING: a fresh lease, or null after a round without one. */
  private async acquire(): Promise<Lease | null> {
    this.state = "selecting";
    const xid = rand32();
    const offer = await this.exchange(MSG.DISCOVER, xid, {}, undefined, [MSG.OFFER], Infinity);
    if (!offer || this.stopped) return null;
    const offered = safeLease(offer);
    if (!offered) return null;
    this.state = "requesting";
    const start = this.o.clock.now();
    const reply = await this.exchange(MSG.REQUEST, xid, { requested: offered.address, serverId: offered.serverId }, undefined, [MSG.ACK, MSG.NAK], Infinity);
    if (!reply || this.stopped) return null;
    if (messageType(reply) === MSG.NAK) {
      this.state = "init";
      await this.o.onChange(null, "nak");
      return null;
    }
    const info = safeLease(reply);
    return info ? { ...info, start } : null;
  }

  /** BOUND -> RENEWING -> REBINDING until the lease is lost or the client stops. */
  private async keep(): Promise<void> {
    while (!this.stopped && this.lease) {
      const l = this.lease;
      const t1 = l.start + l.t1 * 1000, t2 = l.start + l.t2 * 1000, end = l.start + l.leaseTime * 1000;
      this.state = "bound";
      while (!this.stopped && this.o.clock.now() < t1) await this.sleepUntil(t1);
      if (this.stopped) return;
      // RENEWING: unicast to the server that granted the lease, until T2.
      this.state = "renewing";
      let reply = await this.exchange(MSG.REQUEST, rand32(), { ciaddr: l.address }, l.serverId, [MSG.ACK, MSG.NAK], t2);
      let event: DhcpEvent = "renewed";
      if (!reply && !this.stopped) {
        // REBINDING: broadcast to any server, until the lease ends.
        this.state = "rebinding";
        event = "rebound";
        reply = await this.exchange(MSG.REQUEST, rand32(), { ciaddr: l.address }, undefined, [MSG.ACK, MSG.NAK], end);
      }
      if (this.stopped) return;
      if (!reply) {
        this.lease = null;
        this.state = "init";
        await this.o.onChange(null, "expired");
        return;
      }
      if (messageType(reply) === MSG.NAK) {
        this.lease = null;
        this.state = "init";
        await this.o.onChange(null, "nak");
        return;
      }
      const info = safeLease(reply);
      if (info) await this.setLease({ ...info, start: this.o.clock.now() }, event);
    }
  }

  private async setLease(lease: Lease, event: DhcpEvent): Promise<void> {
    this.lease = lease;
    this.state = "bound";
    await this.o.onChange(lease, event);
  }

  /**
   * Sends `type` and waits for a reply of one of `want` types, retransmitting with backoff.
   * Before `deadline` (epoch ms; Infinity = up to maxAttempts tries), returns the reply or null.
   */
  private async exchange(type: number, xid: number, f: Fields, to: string | undefined, want: number[], deadline: number): Promise<DhcpPacket | null> {
    const began = this.o.clock.now();
    for (let attempt = 0; !this.stopped; attempt++) {
      if (deadline === Infinity && attempt >= this.o.maxAttempts) return null;
      const timeout = doublingDelay(attempt + 1, this.o.initialTimeoutMs, this.o.maxTimeoutMs);
      const now = this.o.clock.now();
      if (now >= deadline) return null;
      const secs = Math.min(0xffff, Math.floor((now - began) / 1000));
      try {
        this.o.transport.send(encodePacket(this.packet(type, xid, f, secs)), to);
        this.stats.sent++;
      } catch (e) {
        // ENETDOWN, ENETUNREACH...: the link is not usable yet; wait as if unanswered and retry.
        this.lastError = (e as Error).message;
      }
      // Selecting: RFC 2131 4.1 backoff (4 s, 8 s, ... 64 s) with up to a second of jitter
      // (a quarter of the wait for short test timeouts). RFC 2131 4.4.5: while renewing/rebinding, wait half the remaining time between tries
      // (at least a second, at most maxTimeoutMs so a returning server is found soon).
      const wait = deadline === Infinity
        ? timeout + Math.floor(Math.random() * Math.min(1000, timeout / 4))
        : Math.min(this.o.maxTimeoutMs, Math.max(1000, Math.floor((deadline - now) / 2)));
      const reply = await this.await(xid, want, Math.min(wait, deadline - now));
      if (reply) return reply;
    }
    return null;
  }

  /** The first matching reply within ms; everything else is counted and dropped. */
  private async await(xid: number, want: number[], ms: number): Promise<DhcpPacket | null> {
    const until = this.o.clock.now() + ms;
    while (!this.stopped) {
      const left = until - this.o.clock.now();
      if (left <= 0) return null;
      let raw: Uint8Array | null;
      try {
        raw = await this.o.transport.recv(left);
      } catch (e) {
        if (this.stopped) return null;
        this.lastError = (e as Error).message;
        await this.sleep(Math.min(left, 1000));
        continue;
      }
      if (!raw) return null;
      this.stats.received++;
      let p: DhcpPacket;
      try {
        p = decodePacket(raw);
      } catch (e) {
        if (!(e instanceof DhcpDecodeError)) throw e;
        this.stats.malformed++;
        continue;
      }
      const t = messageType(p);
      if (p.op !== BOOTREPLY || p.xid !== xid || !sameMac(p.chaddr, this.o.mac) || t === undefined || !want.includes(t)) {
        this.stats.ignored++;
        continue;
      }
      if ((t === MSG.OFFER || t === MSG.ACK) && !safeLease(p)) {
        this.stats.malformed++;
        continue;
      }
      return p;
    }
    return null;
  }

  private packet(type: number, xid: number, f: Fields, secs = 0): DhcpPacket {
    const options = new Map<number, Uint8Array>();
    options.set(OPT.MSG_TYPE, Uint8Array.of(type));
    options.set(OPT.CLIENT_ID, Uint8Array.from([1, ...this.o.mac]));
    if (f.requested) options.set(OPT.REQUESTED_IP, ipOf(f.requested).bytes);
    if (f.serverId) options.set(OPT.SERVER_ID, ipOf(f.serverId).bytes);
    if (type !== MSG.RELEASE) {
      options.set(OPT.PARAM_LIST, REQUESTED_PARAMS);
      options.set(OPT.MAX_SIZE, Uint8Array.of(1500 >> 8, 1500 & 0xff));
      if (this.o.hostname) options.set(OPT.HOSTNAME, new TextEncoder().encode(this.o.hostname));
    }
    return {
      op: BOOTREQUEST, xid, secs,
      // Until we hold an address the server must broadcast its answer to reach us.
      flags: f.ciaddr ? 0 : FLAG_BROADCAST,
      ciaddr: f.ciaddr ?? "0.0.0.0", yiaddr: "0.0.0.0", siaddr: "0.0.0.0", giaddr: "0.0.0.0",
      chaddr: this.o.mac, options,
    };
  }

  private sleep(ms: number): Promise<void> {
    return this.sleepUntil(this.o.clock.now() + ms);
  }

  private sleepUntil(at: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      // setTimeout caps at 2^31-1 ms; a longer wait is re-armed by the caller's loop.
      const cancel = this.o.clock.setTimeout(done, Math.min(Math.max(0, at - this.o.clock.now()), 0x7fffffff));
      const self = this;
      function done() {
        cancel();
        self.wake = null;
        resolve();
      }
      this.wake = done;
    });
  }

  /** A one-line description for logs. */
  describe(): string {
    const l = this.lease;
    return l ? `${this.o.ifname}: ${this.state} ${l.address}/${l.prefixLen} from ${l.serverId}, lease ${l.leaseTime}s` : `${this.o.ifname}: ${this.state}`;
  }
}

interface Fields {
  ciaddr?: string;
  requested?: string;
  serverId?: string;
}

function safeLease(p: DhcpPacket): LeaseInfo | null {
  try {
    return leaseOf(p);
  } catch {
    return null;
  }
}

function sameMac(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((x, i) => x === b[i]);
}

function rand32(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]!;
}

export { MSG_NAMES };
