/**
 * One log destination (udp://HOST:PORT or tcp://HOST:PORT): a bounded queue of encoded records
 * and a loop that sends them. enqueue() never waits and never grows memory past the bound: when
 * the destination is slow or down the oldest records are dropped and counted, so a service
 * writing its log, or init, is never held up by the network. The loop connects (TCP, or a
 * connected UDP socket so ICMP errors come back), sends, and after a failure waits a doubling
 * backoff (core/time/backoff.ts) before it tries again.
 *
 * UDP: one datagram per record. TCP: records separated by "\n". A record accepted by the socket
 * counts as sent; what the kernel still held when a TCP peer went away is lost without a count,
 * as with any TCP sender.
 */
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { createConnection, isIPv6, type Socket } from "node:net";
import { Backoff } from "../time/backoff.ts";

export interface Endpoint { protocol: "udp" | "tcp"; host: string; port: number; text: string }

/** A destination's endpoint that cannot be used; the message names it and says what is wrong. */
export class EndpointError extends Error {
  override name = "EndpointError";
}

export function parseEndpoint(text: string): Endpoint {
  const want = `log destination "${text}": expected udp://HOST:PORT or tcp://HOST:PORT`;
  let u: URL;
  try { u = new URL(text); } catch { throw new EndpointError(want); }
  const protocol = u.protocol === "udp:" ? "udp" : u.protocol === "tcp:" ? "tcp" : undefined;
  const port = Number(u.port);
  if (!protocol || !u.hostname || !Number.isInteger(port) || port < 1 || port > 65535) throw new EndpointError(want);
  if ((u.pathname && u.pathname !== "/") || u.search || u.username) throw new EndpointError(`${want} (nothing after the port)`);
  return { protocol, host: u.hostname.replace(/^\[(.*)\]$/, "$1"), port, text };
}

export interface DestinationOptions {
  /** Records held while the destination is slow or down (default 4096); past it the oldest go. */
  maxRecords?: number;
  /** Bytes held likewise (default 1 MiB). */
  maxBytes?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  connectTimeoutMs?: number;
}

export interface DestinationStatus {
  endpoint: string;
  /** A socket is open to it now (UDP: connected; says nothing of a listener being there). */
  connected: boolean;
  /** Records handed to the socket. */
  sent: number;
  /** Records dropped: the queue was full, or (UDP) the send failed. */
  dropped: number;
  /** Records waiting now. */
  queued: number;
  /** Failures in a row (0 once a connection or send worked). */
  failures: number;
  /** The last failure, kept after a recovery so an operator can see what happened. */
  lastError?: string;
  /** ISO time of the last failure. */
  lastErrorTime?: string;
}

/** Bytes of records put into one TCP write. */
const BATCH_BYTES = 64 * 1024;

export class Destination {
  readonly endpoint: Endpoint;
  private readonly maxRecords: number;
  private readonly maxBytes: number;
  private readonly backoff: Backoff;
  private readonly connectTimeoutMs: number;
  private queue: string[] = [];
  private head = 0;
  private queuedBytes = 0;
  private sent = 0;
  private dropped = 0;
  private lastError: string | undefined;
  private lastErrorTime: string | undefined;
  private tcp: Socket | undefined;
  private udp: UdpSocket | undefined;
  private closed = false;
  private wake: (() => void) | undefined;
  private onClose: (() => void) | undefined;
  private readonly loop: Promise<void>;

  constructor(endpoint: string, o: DestinationOptions = {}) {
    this.endpoint = parseEndpoint(endpoint);
    this.maxRecords = o.maxRecords ?? 4096;
    this.maxBytes = o.maxBytes ?? 1 << 20;
    this.backoff = new Backoff(o.backoffBaseMs ?? 250, o.backoffMaxMs ?? 10_000);
    this.connectTimeoutMs = o.connectTimeoutMs ?? 5000;
    this.loop = this.run();
  }

  /** Queues one encoded record (no newline). Never waits; drops the oldest when full. */
  enqueue(line: string): void {
    if (this.closed) return;
    const size = Buffer.byteLength(line) + 1;
    if (size > this.maxBytes) { this.dropped++; return; }
    while (this.queued > 0 && (this.queued >= this.maxRecords || this.queuedBytes + size > this.maxBytes)) {
      this.shift();
      this.dropped++;
    }
    this.queue.push(line);
    this.queuedBytes += size;
    this.poke();
  }

  status(): DestinationStatus {
    return {
      endpoint: this.endpoint.text,
      connected: this.endpoint.protocol === "tcp" ? this.tcp !== undefined : this.udp !== undefined,
      sent: this.sent, dropped: this.dropped, queued: this.queued, failures: this.backoff.failures,
      ...(this.lastError ? { lastError: this.lastError, lastErrorTime: this.lastErrorTime } : {}),
    };
  }

  /** Stops sending; what is still queued is dropped. Resolves once the loop has ended. */
  async close(): Promise<void> {
    this.closed = true;
    this.disconnect();
    this.poke();
    this.onClose?.();
    await this.loop;
  }

  private get queued(): number { return this.queue.length - this.head; }

  private shift(): string {
    const line = this.queue[this.head++]!;
    this.queuedBytes -= Buffer.byteLength(line) + 1;
    // Compacted now and then, not per record: shift() on a long array costs its length.
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return line;
  }

  private poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** Resolves at the next enqueue or close. */
  private idle(): Promise<void> {
    return new Promise((resolve) => { this.wake = resolve; });
  }

  /** Waits `ms`, or until close(). */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.onClose = undefined; resolve(); }, ms);
      this.onClose = () => { clearTimeout(timer); resolve(); };
    });
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      if (this.queued === 0) { await this.idle(); continue; }
      try {
        if (this.endpoint.protocol === "tcp") await this.sendTcp();
        else await this.sendUdp();
      } catch (err) {
        this.fail(err);
        // Only close cuts the wait short: records arriving meanwhile just queue (and may drop).
        await this.pause(this.backoff.fail());
      }
    }
  }

  private fail(err: unknown): void {
    this.lastError = err instanceof Error ? err.message : String(err);
    this.lastErrorTime = new Date().toISOString();
    this.disconnect();
  }

  private disconnect(): void {
    this.tcp?.destroy();
    this.tcp = undefined;
    try { this.udp?.close(); } catch { /* already closed */ }
    this.udp = undefined;
  }

  private async sendTcp(): Promise<void> {
    const sock = this.tcp ?? await this.connectTcp();
    while (this.queued > 0 && !this.closed) {
      if (this.tcp !== sock) throw new Error(`${this.endpoint.text}: connection closed by the peer`);
      let batch = "";
      let n = 0;
      while (this.queued > 0 && batch.length < BATCH_BYTES) { batch += this.shift() + "\n"; n++; }
      const flushed = sock.write(batch);
      this.sent += n;
      if (!flushed) await this.drained(sock);
    }
  }

  private connectTcp(): Promise<Socket> {
    const { host, port, text } = this.endpoint;
    return new Promise((resolve, reject) => {
      const sock = createConnection({ host, port });
      const timer = setTimeout(() => { sock.destroy(); reject(new Error(`${text}: no connection within ${this.connectTimeoutMs} ms`)); }, this.connectTimeoutMs);
      sock.once("error", (err) => { clearTimeout(timer); sock.destroy(); reject(new Error(`${text}: ${err.message}`)); });
      sock.once("connect", () => {
        clearTimeout(timer);
        sock.removeAllListeners("error");
        sock.setNoDelay(true);
        // Whatever the peer says is ignored; reading keeps its data from piling up in the kernel.
        sock.on("data", () => {});
        const gone = (why: string) => {
          if (this.tcp !== sock) return;
          this.tcp = undefined;
          this.fail(new Error(`${text}: ${why}`));
          this.poke();
        };
        sock.on("error", (err) => gone(err.message));
        sock.on("close", () => gone("connection closed by the peer"));
        this.tcp = sock;
        this.backoff.reset();
        resolve(sock);
      });
    });
  }

  private drained(sock: Socket): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = () => { sock.off("drain", done); sock.off("close", lost); resolve(); };
      const lost = () => { sock.off("drain", done); sock.off("close", lost); reject(new Error(`${this.endpoint.text}: connection closed while sending`)); };
      sock.on("drain", done);
      sock.on("close", lost);
    });
  }

  private async sendUdp(): Promise<void> {
    const sock = this.udp ?? await this.connectUdp();
    while (this.queued > 0 && !this.closed) {
      const line = this.shift();
      try {
        await new Promise<void>((resolve, reject) => sock.send(line, (err) => (err ? reject(err) : resolve())));
        this.sent++;
        this.backoff.reset();
      } catch (err) {
        // A datagram that could not go is lost: UDP keeps no copy to send again.
        this.dropped++;
        throw new Error(`${this.endpoint.text}: ${(err as Error).message}`);
      }
    }
  }

  private connectUdp(): Promise<UdpSocket> {
    const { host, port, text } = this.endpoint;
    return new Promise((resolve, reject) => {
      const sock = createSocket(isIPv6(host) ? "udp6" : "udp4");
      sock.once("error", (err) => { try { sock.close(); } catch { /* not open */ } reject(new Error(`${text}: ${err.message}`)); });
      sock.connect(port, host, () => {
        sock.removeAllListeners("error");
        sock.on("error", (err) => { if (this.udp === sock) this.fail(new Error(`${text}: ${err.message}`)); });
        this.udp = sock;
        resolve(sock);
      });
    });
  }
}
