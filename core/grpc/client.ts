/**
 * A gRPC client on node:http2: unary and server-streaming calls over TLS (with a client
 * certificate) or over a unix socket. Deadlines travel as grpc-timeout and are also enforced
 * here; cancelling (AbortSignal, or leaving a for-await loop early) resets the stream so the
 * server stops its work. A call that ends without a grpc-status (for example a refused TLS
 * handshake) fails with UNAVAILABLE: no status is never success.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import http2 from "node:http2";
import net from "node:net";
import type { TLSSocket } from "node:tls";
import { encodeFrame, FrameDecoder } from "./framing.ts";
import { formatTimeout, headersToMetadata, metadataToHeaders, type Metadata } from "./metadata.ts";
import type { Method } from "./method.ts";
import { decodeGrpcMessage, GrpcError, Status, type ConnectionFailure } from "./status.ts";

export interface CallOptions {
  metadata?: Metadata;
  /** Deadline relative to now; sent as grpc-timeout. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Called with the response's initial metadata. */
  onMetadata?: (md: Metadata) => void;
  /** Called with the trailing metadata (also when the call fails). */
  onTrailers?: (md: Metadata) => void;
}

export interface ClientOptions {
  /** Largest response message accepted; larger ones fail the call with RESOURCE_EXHAUSTED. Default 16 MiB. */
  maxReceiveMessageBytes?: number;
}

export interface TlsTarget {
  /** "host:port"; IPv6 as "[::1]:50000". */
  address: string;
  ca?: string | Buffer | (string | Buffer)[];
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Name to verify the server certificate against (default: the host). */
  servername?: string;
  /** Accept any server certificate (maintenance mode's self-signed one). Default false. */
  insecure?: boolean;
  /**
   * SHA-256 of the DER certificate the server must present (32 bytes). Checked once the TLS
   * handshake is done and before any request is written on the connection: a server with
   * another certificate gets no request at all (the call fails with UNAVAILABLE, PIN_MISMATCH).
   */
  pinSha256?: Uint8Array;
}

/** The start of the details of a call refused because the server's certificate is not the pinned one. */
export const PIN_MISMATCH = "server certificate does not match the pinned SHA-256 fingerprint";

const sessionErrors = new WeakMap<http2.ClientHttp2Session, Error>();
/** Sessions whose server sent its HTTP/2 settings: the connection was accepted (TLS included). */
const sessionsSettled = new WeakSet<http2.ClientHttp2Session>();
/**
 * Sessions whose TLS handshake finished. A failure before that sent no request, so a client may
 * safely try another endpoint: errors then say "before the TLS handshake finished".
 */
const sessionsConnected = new WeakSet<http2.ClientHttp2Session>();
export const BEFORE_HANDSHAKE = "before the TLS handshake finished";
/** Sessions whose server certificate was found to match the pin. */
const sessionsPinned = new WeakSet<http2.ClientHttp2Session>();

/** The system error code (ECONNREFUSED, ENOTFOUND, ...) of a connection's error, when it has one. */
function errnoOf(err: Error | undefined): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}

/** The status of a stream that closed without grpc-status, from its RST_STREAM code (as the gRPC spec maps them). */
function closedWithoutStatus(rst: number, session: http2.ClientHttp2Session, sessionError: Error | undefined): GrpcError {
  const c = http2.constants;
  if (sessionError) {
    const connected = sessionsConnected.has(session);
    return new GrpcError(Status.UNAVAILABLE, `connection failed${connected ? "" : ` ${BEFORE_HANDSHAKE}`}: ${sessionError.message}`, {}, { beforeHandshake: !connected, errno: errnoOf(sessionError) });
  }
  if (session.destroyed || session.closed) {
    // A TLS 1.3 server refuses a client certificate after the client's handshake is done: the
    // connection then closes before the server ever spoke HTTP/2. Say which case this is.
    const settled = sessionsSettled.has(session);
    return new GrpcError(Status.UNAVAILABLE, settled
      ? "connection closed before the call ended"
      : "connection closed before the server's HTTP/2 settings arrived (the TLS handshake was refused, e.g. the client certificate)", {}, { beforeHandshake: false, closedDuringCall: settled, refusedAfterHandshake: !settled });
  }
  switch (rst) {
    case c.NGHTTP2_NO_ERROR: return new GrpcError(Status.UNAVAILABLE, "stream ended without a gRPC status");
    case c.NGHTTP2_REFUSED_STREAM: return new GrpcError(Status.UNAVAILABLE, "stream refused by the server");
    case c.NGHTTP2_CANCEL: return new GrpcError(Status.CANCELLED, "stream cancelled by the server");
    case c.NGHTTP2_ENHANCE_YOUR_CALM: return new GrpcError(Status.RESOURCE_EXHAUSTED, "server asked to slow down (ENHANCE_YOUR_CALM)");
    case c.NGHTTP2_INADEQUATE_SECURITY: return new GrpcError(Status.PERMISSION_DENIED, "server refused the connection's security (INADEQUATE_SECURITY)");
    default: return new GrpcError(Status.INTERNAL, `stream reset by the server (HTTP/2 code ${rst})`);
  }
}

/** HTTP status of a non-gRPC answer, mapped as the gRPC spec says. */
function httpToGrpc(status: number): number {
  switch (status) {
    case 400: return Status.INTERNAL;
    case 401: return Status.UNAUTHENTICATED;
    case 403: return Status.PERMISSION_DENIED;
    case 404: return Status.UNIMPLEMENTED;
    case 429: case 502: case 503: case 504: return Status.UNAVAILABLE;
    default: return Status.UNKNOWN;
  }
}

export class GrpcClient {
  private session: http2.ClientHttp2Session | undefined;
  private readonly maxReceive: number;

  private constructor(
    private readonly connect: () => http2.ClientHttp2Session,
    private readonly authority: string,
    options: ClientOptions,
    private readonly pin?: Buffer,
  ) {
    this.maxReceive = options.maxReceiveMessageBytes ?? 16 * 1024 * 1024;
  }

  static tls(target: TlsTarget, options: ClientOptions = {}): GrpcClient {
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(target.address);
    if (!m) throw new Error(`endpoint ${JSON.stringify(target.address)} is not host:port`);
    const host = m[1]!;
    if (target.pinSha256 !== undefined && target.pinSha256.length !== 32) throw new Error(`pinSha256: a SHA-256 digest has 32 bytes, got ${target.pinSha256.length}`);
    const url = `https://${host.includes(":") ? `[${host}]` : host}:${m[2]}`;
    return new GrpcClient(() => http2.connect(url, {
      ca: target.ca, cert: target.cert, key: target.key,
      servername: target.servername ?? (net.isIP(host) ? undefined : host),
      rejectUnauthorized: !target.insecure,
      minVersion: "TLSv1.3", ALPNProtocols: ["h2"],
    }), target.address, options, target.pinSha256 ? Buffer.from(target.pinSha256) : undefined);
  }

  static unix(path: string, options: ClientOptions = {}): GrpcClient {
    return new GrpcClient(() => http2.connect("http://localhost", { createConnection: () => net.connect(path) }), "localhost", options);
  }

  /** One request, one response. Throws GrpcError on any non-OK status. */
  async unary<Req, Res>(method: Method<Req, Res, false>, request: Req, options: CallOptions = {}): Promise<Res> {
    let result: Res | undefined;
    let count = 0;
    for await (const res of this.call(method, request, options)) {
      result = res;
      count++;
    }
    if (count !== 1) throw new GrpcError(Status.INTERNAL, `${method.name}: expected one response message, got ${count}`);
    return result as Res;
  }

  /** A server stream; leaving the loop early cancels the call. Throws GrpcError on a non-OK end. */
  stream<Req, Res>(method: Method<Req, Res, true>, request: Req, options: CallOptions = {}): AsyncGenerator<Res> {
    return this.call(method, request, options);
  }

  /** Closes the connection (calls in flight fail with UNAVAILABLE). */
  close(): void {
    this.session?.close();
    this.session = undefined;
  }

  private getSession(): http2.ClientHttp2Session {
    if (!this.session || this.session.closed || this.session.destroyed) {
      const s = this.connect();
      s.on("error", (err) => sessionErrors.set(s, err)); // reported by the calls that fail with it
      s.once("remoteSettings", () => sessionsSettled.add(s));
      s.once("connect", () => sessionsConnected.add(s));
      s.on("close", () => { if (this.session === s) this.session = undefined; });
      this.session = s;
    }
    return this.session;
  }

  /**
   * Waits for the session's TLS handshake and compares the server certificate with `pin`; on a
   * mismatch the connection is destroyed before any request went out on it.
   */
  private async checkPin(session: http2.ClientHttp2Session, pin: Buffer, options: CallOptions): Promise<void> {
    if (sessionsPinned.has(session)) return;
    if (session.connecting) {
      await new Promise<void>((resolve, reject) => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const done = (err?: GrpcError) => {
          clearTimeout(timer);
          session.off("connect", onConnect);
          session.off("close", onClose);
          options.signal?.removeEventListener("abort", onAbort);
          if (err) reject(err); else resolve();
        };
        const onConnect = () => done();
        // The session's error is recorded by getSession's listener; close follows it.
        const onClose = () => {
          const err = sessionErrors.get(session);
          done(new GrpcError(Status.UNAVAILABLE, `connection failed: ${err?.message ?? `closed ${BEFORE_HANDSHAKE}`}`, {}, { beforeHandshake: err === undefined, errno: errnoOf(err) }));
        };
        const onAbort = () => done(new GrpcError(Status.CANCELLED, "call cancelled by the caller"));
        if (options.timeoutMs !== undefined) timer = setTimeout(() => done(new GrpcError(Status.DEADLINE_EXCEEDED, `deadline of ${options.timeoutMs} ms exceeded`)), options.timeoutMs);
        session.once("connect", onConnect);
        session.once("close", onClose);
        options.signal?.addEventListener("abort", onAbort, { once: true });
      });
    }
    if (session.destroyed || session.closed) {
      const err = sessionErrors.get(session);
      throw new GrpcError(Status.UNAVAILABLE, `connection failed: ${err?.message ?? "closed"}`, {}, { beforeHandshake: false, errno: errnoOf(err) });
    }
    const raw = (session.socket as TLSSocket | undefined)?.getPeerCertificate?.(true)?.raw;
    const got = raw ? createHash("sha256").update(raw).digest() : undefined;
    if (!got || got.length !== pin.length || !timingSafeEqual(got, pin)) {
      session.destroy();
      const hex = (b: Buffer) => b.toString("hex").toUpperCase().match(/../g)!.join(":");
      throw new GrpcError(Status.UNAVAILABLE, `${PIN_MISMATCH}: the server's is ${got ? hex(got) : "unknown (no certificate)"}, the pinned one ${hex(pin)}`);
    }
    sessionsPinned.add(session);
  }

  private async *call<Req, Res>(method: Method<Req, Res, boolean>, request: Req, options: CallOptions): AsyncGenerator<Res> {
    const queue = new CallQueue<Res>();
    const decoder = new FrameDecoder(this.maxReceive, "response message");
    let status: GrpcError | null | undefined; // undefined: not seen yet; null: OK
    let body: Uint8Array;
    try {
      body = encodeFrame(method.requestType.encode(request).finish());
    } catch (err) {
      throw new GrpcError(Status.INTERNAL, `cannot encode ${method.name} request: ${(err as Error).message}`);
    }
    if (options.signal?.aborted) throw new GrpcError(Status.CANCELLED, "call cancelled before it started");

    const headers: http2.OutgoingHttpHeaders = {
      ":method": "POST", ":path": method.path, ":authority": this.authority, ":scheme": "https",
      "content-type": "application/grpc", te: "trailers", "grpc-accept-encoding": "identity",
      "user-agent": "bunker-grpc/1",
      ...metadataToHeaders(options.metadata ?? {}),
    };
    if (options.timeoutMs !== undefined) headers["grpc-timeout"] = formatTimeout(options.timeoutMs);

    const session = this.getSession();
    if (this.pin) await this.checkPin(session, this.pin, options);
    const stream = session.request(headers);
    const fail = (code: number, details: string, connection?: ConnectionFailure) => {
      if (status === undefined) status = new GrpcError(code, details, {}, connection);
      queue.end(true);
      if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
    };
    const readStatus = (h: http2.IncomingHttpHeaders) => {
      if (h["grpc-status"] === undefined || status !== undefined) return;
      const md = headersToMetadata(h);
      options.onTrailers?.(md);
      const code = Number(h["grpc-status"]);
      status = code === Status.OK ? null : new GrpcError(code, decodeGrpcMessage(String(h["grpc-message"] ?? "")), md);
    };

    let timer: ReturnType<typeof setTimeout> | undefined;
    if (options.timeoutMs !== undefined) {
      timer = setTimeout(() => fail(Status.DEADLINE_EXCEEDED, `deadline of ${options.timeoutMs} ms exceeded`), options.timeoutMs);
    }
    const onAbort = () => fail(Status.CANCELLED, "call cancelled by the caller");
    options.signal?.addEventListener("abort", onAbort, { once: true });

    stream.on("response", (h) => {
      const http = Number(h[":status"]);
      if (http !== 200) return fail(httpToGrpc(http), `server answered HTTP ${http} instead of gRPC`);
      if (!String(h["content-type"] ?? "").startsWith("application/grpc")) {
        return fail(Status.UNKNOWN, `server answered content-type ${h["content-type"]} instead of application/grpc`);
      }
      if (h["grpc-status"] !== undefined) return readStatus(h); // trailers-only
      options.onMetadata?.(headersToMetadata(h));
    });
    stream.on("trailers", readStatus);
    stream.on("data", (chunk: Buffer) => {
      try {
        for (const msg of decoder.push(chunk)) queue.push(method.responseType.decode(msg));
      } catch (err) {
        if (err instanceof GrpcError) return fail(err.code, err.details);
        fail(Status.INTERNAL, `response is not a valid ${method.name} response: ${(err as Error).message}`);
      }
      if (queue.full) stream.pause();
    });
    stream.on("error", (err) => {
      const connected = sessionsConnected.has(session);
      fail(Status.UNAVAILABLE, `${method.path}: ${connected ? "" : `connection failed ${BEFORE_HANDSHAKE}: `}${err.message}`, { beforeHandshake: !connected, errno: errnoOf(err) });
    });
    stream.on("close", () => {
      // A failed handshake or lost connection closes the stream first and reports the session's
      // error just after: look one turn later so the status names the real cause.
      setImmediate(() => {
        if (status === undefined) status = closedWithoutStatus(stream.rstCode ?? 0, session, sessionErrors.get(session));
        queue.end();
      });
    });
    stream.end(body);

    try {
      for (;;) {
        const next = await queue.next(() => stream.resume());
        if (next === undefined) break;
        yield next;
      }
      if (status === undefined) status = new GrpcError(Status.INTERNAL, "stream ended without a gRPC status");
      if (status !== null) throw status;
      if (decoder.pending > 0) throw new GrpcError(Status.INTERNAL, `response ended inside a message (${decoder.pending} bytes left over)`);
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      // Leaving early (break, throw in the loop) cancels the call on the server.
      if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
    }
  }
}

/** Messages received but not yet consumed; the stream is paused while it holds many. */
class CallQueue<T> {
  private items: T[] = [];
  private ended = false;
  private wake: (() => void) | undefined;

  get full(): boolean {
    return this.items.length >= 64;
  }

  push(item: T): void {
    this.items.push(item);
    this.wake?.();
  }

  /** No more items; with `drop`, also forget the undelivered ones (the call failed). */
  end(drop = false): void {
    this.ended = true;
    if (drop) this.items = [];
    this.wake?.();
  }

  /** The next item, or undefined at the end. `resume` is called when the queue runs low. */
  async next(resume: () => void): Promise<T | undefined> {
    for (;;) {
      if (this.items.length) {
        const item = this.items.shift()!;
        if (this.items.length < 16) resume();
        return item;
      }
      if (this.ended) return undefined;
      await new Promise<void>((r) => { this.wake = r; });
      this.wake = undefined;
    }
  }
}
