/**
 * A datagram socket (netlink, UDP) driven through libc, for the sockets Bun cannot make itself:
 * AF_NETLINK, and UDP sockets that must be bound to a device BEFORE bind() (several DHCP clients
 * each own port 68 on their own link).
 *
 * Receiving never blocks the event loop: a non-blocking recvfrom(MSG_DONTWAIT) answers at once
 * when data is queued (rtnetlink replies usually are, the kernel builds them inside sendto); only
 * then does the read go to Bun's threadpool with fs.read. SO_RCVTIMEO bounds each threadpool read
 * to a short slice, so a deadline or close() is noticed within one slice and no thread is held.
 */
import { read as fsRead } from "node:fs";
import { bufPtr, check, errno, errnos, libc, SysError } from "./libc.ts";

export const SOL_SOCKET = 1;
export const SO_REUSEADDR = 2;
export const SO_BROADCAST = 6;
export const SO_RCVBUF = 8;
export const SO_RCVTIMEO = 20;
export const SO_BINDTODEVICE = 25;
export const MSG_DONTWAIT = 0x40;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOCK_CLOEXEC = 0x80000;
export const AF_INET = 2;
export const AF_NETLINK = 16;

/** How long one threadpool read may block before it looks at the deadline and close flag. */
const SLICE_MS = 100;

export class TimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`${what}: no answer within ${ms} ms`);
    this.name = "TimeoutError";
  }
}

function readSlice(fd: number, buf: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    fsRead(fd, buf, 0, buf.length, null, (err, n) => {
      if (!err) return resolve(n);
      const code = (err as NodeJS.ErrnoException).code;
      // SO_RCVTIMEO expiry: nothing arrived in this slice.
      if (code === "EAGAIN" || code === "EWOULDBLOCK" || code === "EINTR") return resolve(-1);
      reject(err);
    });
  });
}

export class DgramSocket {
  private closed = false;
  private interrupted = false;
  private reading: Promise<unknown> | null = null;

  private constructor(readonly fd: number, readonly what: string) {}

  /** socket(2) with SOCK_CLOEXEC; `what` names the socket in every error. */
  static open(domain: number, type: number, protocol: number, what: string): DgramSocket {
    const fd = check("socket", libc().socket(domain, type | SOCK_CLOEXEC, protocol), what);
    const s = new DgramSocket(fd, what);
    const tv = Buffer.alloc(16);
    tv.writeBigInt64LE(0n, 0);
    tv.writeBigInt64LE(BigInt(SLICE_MS * 1000), 8);
    s.setOption(SOL_SOCKET, SO_RCVTIMEO, tv, "SO_RCVTIMEO");
    return s;
  }

  setOption(level: number, name: number, value: Buffer | number, label: string): void {
    let b: Buffer;
    if (typeof value === "number") {
      b = Buffer.alloc(4);
      b.writeInt32LE(value);
    } else b = value;
    check("setsockopt", libc().setsockopt(this.fd, level, name, bufPtr(b), b.length), `${label} on ${this.what}`);
  }

  bind(addr: Buffer): void {
    check("bind", libc().bind(this.fd, bufPtr(addr), addr.length), this.what);
  }

  send(data: Uint8Array, addr: Buffer | null): void {
    const n = libc().sendto(this.fd, bufPtr(data), data.byteLength, 0, bufPtr(addr), addr ? addr.length : 0);
    check("sendto", n, this.what);
  }

  /** One datagram if one is queued now, else null. */
  tryRecv(buf: Buffer): number | null {
    const n = Number(libc().recvfrom(this.fd, bufPtr(buf), buf.length, MSG_DONTWAIT, null, null));
    if (n >= 0) return n;
    const e = errno();
    if (e === errnos.EAGAIN || e === errnos.EINTR) return null;
    throw new SysError("recvfrom", e, this.what);
  }

  /**
   * The next datagram, waiting at most timeoutMs. Throws TimeoutError when none came, and an
   * Error when the socket was closed meanwhile. One receive at a time per socket.
   */
  async recv(buf: Buffer, timeoutMs: number): Promise<number> {
    if (this.closed) throw new Error(`${this.what}: socket is closed`);
    const quick = this.tryRecv(buf);
    if (quick !== null) return quick;
    const deadline = Date.now() + timeoutMs;
    this.interrupted = false;
    const loop = async (): Promise<number> => {
      while (!this.closed) {
        if (this.interrupted) throw new TimeoutError(`${this.what} (interrupted)`, timeoutMs);
        const n = await readSlice(this.fd, buf);
        if (n >= 0) return n;
        if (Date.now() >= deadline) throw new TimeoutError(this.what, timeoutMs);
      }
      throw new Error(`${this.what}: socket closed while receiving`);
    };
    const p = loop();
    this.reading = p.catch(() => undefined);
    try {
      return await p;
    } finally {
      this.reading = null;
    }
  }

  /** Makes a pending recv() end with a TimeoutError within one slice; the socket stays open. */
  interrupt(): void {
    this.interrupted = true;
  }

  /** Closes the fd once no threadpool read is using it (so the number is never reused under it). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.reading) await this.reading;
    libc().close(this.fd);
  }
}

/** A sockaddr_in for an IPv4 address (4 bytes) and port. */
export function sockaddrIn(addr: Uint8Array, port: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(AF_INET, 0);
  b.writeUInt16BE(port, 2);
  b.set(addr.subarray(0, 4), 4);
  return b;
}
