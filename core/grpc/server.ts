/**
 * A gRPC server on node:http2 with hand-written framing: unary and server-streaming calls,
 * status + grpc-message trailers (trailers-only for early errors), grpc-timeout deadlines,
 * cancellation, metadata and message size limits. Transports: TLS 1.3 with client certificates
 * (the verified peer certificate reaches handlers) and plaintext HTTP/2 on a unix socket (the
 * peer's uid/gid/pid, from SO_PEERCRED, reach handlers).
 *
 * Every call gets an AbortSignal that fires when the client cancels (RST_STREAM or a lost
 * connection), when its deadline passes, or when the server closes. Handlers must stop their
 * work when it fires; a streaming handler is also stopped at its next yield.
 *
 * Work done before a caller is authorised is bounded: the `authorize` option decides from the
 * peer and the headers before a byte of the body is read; each method has its own request size
 * limit; the bytes of request bodies held are capped per connection and for the whole server;
 * streams per connection are capped (SETTINGS_MAX_CONCURRENT_STREAMS); a TLS handshake must end
 * within `handshakeTimeoutMs`; and one source address holds at most `maxConnectionsPerAddress`
 * TLS connections. Refused connections are reported through `onError` at a bounded rate.
 */
import http2 from "node:http2";
import type { AddressInfo, Socket } from "node:net";
import { chmodSync, unlinkSync } from "node:fs";
import type { DetailedPeerCertificate, TLSSocket } from "node:tls";
import { peerCred, type PeerCred } from "../sys/socket.ts";
import { encodeFrame, FrameDecoder } from "./framing.ts";
import { headersToMetadata, metadataToHeaders, parseTimeout, type Metadata } from "./metadata.ts";
import type { AnyMethod, Method } from "./method.ts";
import { encodeGrpcMessage, GrpcError, Status, statusOf } from "./status.ts";

/** Who is calling: the verified TLS client, or the process at the other end of a unix socket. */
export type Peer =
  | { transport: "tls"; address: string; port: number; authorized: boolean; certificate: DetailedPeerCertificate | undefined }
  | ({ transport: "unix" } & PeerCred);

export interface CallContext {
  readonly method: AnyMethod;
  /** Request metadata (custom headers; "-bin" keys as bytes). */
  readonly metadata: Metadata;
  /** Aborted on client cancel, deadline or server close; its reason is a GrpcError. */
  readonly signal: AbortSignal;
  /** When the call's deadline passes (ms since epoch), if the client set one. */
  readonly deadline: number | undefined;
  readonly peer: Peer;
  /** Initial metadata to send with the response headers (before the first message). */
  sendMetadata(md: Metadata): void;
  /** Metadata to send with the status trailers. */
  setTrailers(md: Metadata): void;
}

export type UnaryHandler<Req, Res> = (request: Req, ctx: CallContext) => Res | Promise<Res>;
export type StreamHandler<Req, Res> = (request: Req, ctx: CallContext) => AsyncIterable<Res>;
/** The handler type a method needs: an async generator for server streaming, else a function. */
export type HandlerOf<M> =
  M extends Method<infer Req, infer Res, true> ? StreamHandler<Req, Res>
  : M extends Method<infer Req, infer Res, false> ? UnaryHandler<Req, Res>
  : never;

/**
 * Decides from the peer and the headers (method, metadata) whether a call may go on, before its
 * body is read: throw a GrpcError to refuse it (anything else thrown is PERMISSION_DENIED). It
 * runs synchronously on the event loop; the handler still runs its own checks afterwards.
 */
export type PreBodyCheck = (ctx: CallContext) => void;

export interface ServerOptions {
  /**
   * Largest request message accepted, for a method registered without its own `maxRequestBytes`;
   * larger ones get RESOURCE_EXHAUSTED, decided from the 5-byte prefix. Default 4 MiB.
   */
  maxReceiveMessageBytes?: number;
  /** Largest response message sent; a larger one ends the call with RESOURCE_EXHAUSTED. Default 16 MiB. */
  maxSendMessageBytes?: number;
  /** A request message not complete within this time ends the call (stalled client). Default 10 s. */
  requestTimeoutMs?: number;
  /** A connection with no open call for this long is closed. Default 5 min. */
  idleSessionMs?: number;
  /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS per connection; a stream beyond it is refused. Default 100. */
  maxConcurrentStreams?: number;
  /** Request body bytes held (received, not yet decoded) per connection; beyond: RESOURCE_EXHAUSTED. Default 8 MiB. */
  maxBufferedBytesPerConnection?: number;
  /** Request body bytes held by the whole server; beyond: RESOURCE_EXHAUSTED. Default 32 MiB. */
  maxBufferedBytes?: number;
  /** A TLS connection whose handshake has not ended within this time is closed. Default 10 s. */
  handshakeTimeoutMs?: number;
  /** Concurrent TLS connections one source address may hold; more are closed at once. Default 32. */
  maxConnectionsPerAddress?: number;
  /** Runs before each call's body is read; see PreBodyCheck. */
  authorize?: PreBodyCheck;
  /**
   * Told about connection-level failures (TLS handshakes, refused connections, protocol errors);
   * core code never logs. A kind of failure repeating is told once, then as one summary per
   * `errorReportIntervalMs` (default 10 s) with the count: a flood cannot flood the log.
   */
  onError?: (err: Error, where: string) => void;
  errorReportIntervalMs?: number;
}

export interface HandleOptions {
  /** Largest request message of this method (default: the server's maxReceiveMessageBytes). */
  maxRequestBytes?: number;
}

export interface TlsListenOptions {
  host: string;
  port: number;
  key: string | Buffer;
  cert: string | Buffer;
  /** CA certificates client certificates must chain to. */
  ca?: string | Buffer | (string | Buffer)[];
  /** Ask for a client certificate and refuse the handshake without a valid one. Default true. */
  requireClientCert?: boolean;
}

type Entry = { method: AnyMethod; fn: (req: unknown, ctx: CallContext) => unknown; maxRequestBytes: number };
type Opts = Required<Omit<ServerOptions, "onError" | "authorize">>;
type H2Server = http2.Http2Server | http2.Http2SecureServer;

const GRPC_HEADERS = { ":status": 200, "content-type": "application/grpc", "grpc-accept-encoding": "identity" };

export class GrpcServer {
  private readonly handlers = new Map<string, Entry>();
  private readonly servers: H2Server[] = [];
  private readonly tlsServers: http2.Http2SecureServer[] = [];
  private readonly unixPaths: string[] = [];
  private readonly openStreams = new Map<http2.Http2Session, number>();
  private readonly calls = new Set<AbortController>();
  private readonly peers = new WeakMap<http2.Http2Session, Peer>();
  private readonly budgets = new WeakMap<http2.Http2Session, ByteBudget>();
  private readonly buffered: ByteBudget;
  private readonly perAddress = new Map<string, number>();
  private readonly reporter: ErrorReporter;
  private readonly opts: Opts & Pick<ServerOptions, "onError" | "authorize">;

  constructor(options: ServerOptions = {}) {
    this.opts = {
      maxReceiveMessageBytes: 4 * 1024 * 1024,
      maxSendMessageBytes: 16 * 1024 * 1024,
      requestTimeoutMs: 10_000,
      idleSessionMs: 300_000,
      maxConcurrentStreams: 100,
      maxBufferedBytesPerConnection: 8 * 1024 * 1024,
      maxBufferedBytes: 32 * 1024 * 1024,
      handshakeTimeoutMs: 10_000,
      maxConnectionsPerAddress: 32,
      errorReportIntervalMs: 10_000,
      ...options,
    };
    this.buffered = new ByteBudget(this.opts.maxBufferedBytes, "the server");
    this.reporter = new ErrorReporter(this.opts.errorReportIntervalMs, this.opts.onError);
  }

  /** Registers the handler of one method (replacing any earlier one). */
  handle<M extends AnyMethod>(method: M, fn: HandlerOf<M>, o: HandleOptions = {}): this {
    const maxRequestBytes = o.maxRequestBytes ?? this.opts.maxReceiveMessageBytes;
    if (!(Number.isInteger(maxRequestBytes) && maxRequestBytes > 0)) throw new Error(`${method.path}: maxRequestBytes must be a positive integer, got ${maxRequestBytes}`);
    this.handlers.set(method.path, { method, fn: fn as Entry["fn"], maxRequestBytes });
    return this;
  }

  /** Paths of every registered method. */
  get methods(): string[] {
    return [...this.handlers.keys()];
  }

  /** Listens with TLS 1.3 (ALPN h2); resolves to the bound address (port 0 picks one). */
  async listenTls(o: TlsListenOptions): Promise<AddressInfo> {
    const requireCert = o.requireClientCert ?? true;
    const server = http2.createSecureServer({
      key: o.key, cert: o.cert, ca: o.ca,
      requestCert: requireCert, rejectUnauthorized: requireCert,
      minVersion: "TLSv1.3", ALPNProtocols: ["h2"], allowHTTP1: false,
      settings: { maxConcurrentStreams: this.opts.maxConcurrentStreams },
      // A connection that never completes its handshake would otherwise be held for 120 s.
      handshakeTimeout: this.opts.handshakeTimeoutMs,
    });
    server.on("tlsClientError", (err: Error) => this.reporter.report(err, "tls handshake"));
    server.on("connection", (socket: Socket) => this.admitConnection(socket));
    this.tlsServers.push(server);
    this.attach(server, (session) => {
      const sock = session.socket as TLSSocket;
      const cert = sock.getPeerCertificate?.(true);
      return {
        transport: "tls",
        address: sock.remoteAddress ?? "",
        port: sock.remotePort ?? 0,
        authorized: sock.authorized === true,
        certificate: cert && Object.keys(cert).length ? cert : undefined,
      };
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(o.port, o.host, () => { server.off("error", reject); resolve(); });
    });
    return server.address() as AddressInfo;
  }

  /**
   * Replaces the TLS key, certificate and trusted CAs for new connections (certificate renewal,
   * CA rotation). Open connections and their streams keep going on the old ones.
   */
  setCredentials(c: { key: string | Buffer; cert: string | Buffer; ca?: string | Buffer | (string | Buffer)[] }): void {
    for (const s of this.tlsServers) s.setSecureContext({ key: c.key, cert: c.cert, ca: c.ca, minVersion: "TLSv1.3" });
  }

  /** Listens with plaintext HTTP/2 (h2c, prior knowledge) on a unix socket, replacing a stale one. */
  async listenUnix(path: string, mode = 0o600): Promise<void> {
    const server = http2.createServer({ settings: { maxConcurrentStreams: this.opts.maxConcurrentStreams } });
    this.attach(server, (session) => {
      const fd = (session.socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
      if (typeof fd !== "number") throw new Error("unix socket connection has no file descriptor for SO_PEERCRED");
      return { transport: "unix", ...peerCred(fd) };
    });
    try { unlinkSync(path); } catch { /* absent: nothing to replace */ }
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(path, () => { server.off("error", reject); resolve(); });
    });
    chmodSync(path, mode);
    this.unixPaths.push(path);
  }

  /**
   * Stops listening, cancels every call (their signals fire) and closes every connection. With
   * `graceMs`, the connections are first told to take no new calls (GOAWAY) and the calls under
   * way get up to that long to finish: an answer already on its way still reaches its caller.
   */
  async close(graceMs = 0): Promise<void> {
    const closing = this.servers.map((s) => new Promise<void>((r) => s.close(() => r())));
    if (graceMs > 0 && this.openStreams.size > 0) {
      for (const session of this.openStreams.keys()) session.close();
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([Promise.all(closing), new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
    }
    for (const ac of this.calls) ac.abort(new GrpcError(Status.UNAVAILABLE, "server shutting down"));
    for (const session of this.openStreams.keys()) session.destroy();
    await Promise.all(closing);
    for (const p of this.unixPaths) { try { unlinkSync(p); } catch { /* already gone */ } }
    this.reporter.flushAll();
    this.servers.length = 0;
    this.tlsServers.length = 0;
    this.unixPaths.length = 0;
  }

  /**
   * Counts a new TCP connection against its source address; one over the cap is closed at once,
   * before any TLS work. (The first handshake bytes are all a client spends; this bounds the
   * sockets and handshake state one address can make the server hold.)
   */
  private admitConnection(socket: Socket): void {
    const address = socket.remoteAddress ?? "";
    const n = (this.perAddress.get(address) ?? 0) + 1;
    if (n > this.opts.maxConnectionsPerAddress) {
      socket.destroy();
      this.reporter.report(new Error(`refused a connection from ${address}: it already holds ${n - 1} (the limit per address)`), "connection limit");
      return;
    }
    this.perAddress.set(address, n);
    socket.once("close", () => {
      const left = (this.perAddress.get(address) ?? 1) - 1;
      if (left > 0) this.perAddress.set(address, left);
      else this.perAddress.delete(address);
    });
  }

  private attach(server: H2Server, peerOf: (s: http2.ServerHttp2Session) => Peer): void {
    this.servers.push(server);
    server.on("sessionError", (err: Error) => this.reporter.report(err, "http2 session"));
    // After listening, a failing accept (EMFILE, ...) is reported, never fatal.
    server.on("error", (err: Error) => this.reporter.report(err, "listener"));
    server.on("session", (session: http2.ServerHttp2Session) => {
      this.openStreams.set(session, 0);
      session.on("error", (err) => this.reporter.report(err, "http2 session"));
      this.budgets.set(session, new ByteBudget(this.opts.maxBufferedBytesPerConnection, "this connection", this.buffered));
      session.on("close", () => this.openStreams.delete(session));
      // Idle connections go; ones holding a call (even a quiet `logs -f`) stay.
      session.setTimeout(this.opts.idleSessionMs, () => {
        if ((this.openStreams.get(session) ?? 0) === 0) session.close();
      });
      try {
        this.peers.set(session, peerOf(session));
      } catch (err) {
        this.reporter.report(err as Error, "peer identity");
        session.destroy();
      }
    });
    server.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
      // A stream closed with an error code emits 'error'; unheard, that would end the process.
      stream.on("error", () => { /* the 'close' handlers end the call */ });
      const session = stream.session;
      const peer = session && this.peers.get(session);
      if (!session || !peer) {
        stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
        return;
      }
      this.openStreams.set(session, (this.openStreams.get(session) ?? 0) + 1);
      stream.once("close", () => this.openStreams.set(session, Math.max(0, (this.openStreams.get(session) ?? 1) - 1)));
      this.onStream(stream, headers, peer, this.budgets.get(session)!);
    });
  }

  private onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, peer: Peer, budget: ByteBudget): void {
    const path = String(headers[":path"] ?? "");
    if (headers[":method"] !== "POST") return plainHttp(stream, 405);
    if (!String(headers["content-type"] ?? "").startsWith("application/grpc")) return plainHttp(stream, 415);

    const call = new ServerCall(stream, this.opts, (err) => this.reporter.report(err, `call ${path}`));
    this.calls.add(call.ac);
    stream.once("close", () => {
      this.calls.delete(call.ac);
      call.closed();
    });

    const entry = this.handlers.get(path);
    if (!entry) return call.finish(Status.UNIMPLEMENTED, `unknown method ${path}`);
    const encoding = headers["grpc-encoding"];
    if (encoding !== undefined && encoding !== "identity") {
      return call.finish(Status.UNIMPLEMENTED, `grpc-encoding ${encoding} is not supported; use identity`);
    }
    const timeout = headers["grpc-timeout"];
    const timeoutMs = parseTimeout(typeof timeout === "string" ? timeout : undefined);
    if (timeout !== undefined && timeoutMs === undefined) {
      return call.finish(Status.INTERNAL, `malformed grpc-timeout ${JSON.stringify(timeout)}`);
    }
    const ctx: CallContext = {
      method: entry.method,
      metadata: headersToMetadata(headers),
      signal: call.ac.signal,
      deadline: timeoutMs === undefined ? undefined : Date.now() + timeoutMs,
      peer,
      sendMetadata: (md) => call.sendHeaders(md),
      setTrailers: (md) => { call.trailers = { ...call.trailers, ...md }; },
    };
    // Authorised from the peer and headers alone: a refused call costs no body bytes.
    if (this.opts.authorize) {
      try {
        this.opts.authorize(ctx);
      } catch (err) {
        const e = err instanceof GrpcError ? err : new GrpcError(Status.PERMISSION_DENIED, (err as Error)?.message ?? String(err));
        return call.finish(e.code, e.details);
      }
    }
    if (timeoutMs !== undefined) call.startDeadline(timeoutMs);
    call.readRequest(entry, budget, (req) => void call.run(entry, req, ctx));
  }
}

/** One call's state on the server: reading the request, running the handler, ending with a status. */
class ServerCall {
  readonly ac = new AbortController();
  trailers: Metadata = {};
  private headersSent = false;
  private done = false;
  private timers: ReturnType<typeof setTimeout>[] = [];

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    private readonly opts: Opts,
    /** Told the errors whose text the caller does not see (statusOf). */
    private readonly onHidden: (err: Error) => void,
  ) {}

  /** Request bytes this call holds against its connection's (and the server's) budget. */
  private held = 0;
  private budget: ByteBudget | undefined;

  private releaseBuffered(): void {
    if (this.held) this.budget?.release(this.held);
    this.held = 0;
  }

  /** The stream closed: if the call had not ended, the client cancelled it. */
  closed(): void {
    this.clearTimers();
    this.releaseBuffered();
    if (!this.done) {
      this.done = true;
      this.ac.abort(new GrpcError(Status.CANCELLED, "call cancelled by the client"));
    }
  }

  startDeadline(ms: number): void {
    // setTimeout fires at once beyond 2^31-1 ms; such deadlines are effectively none.
    if (ms > 2_147_483_647) return;
    this.timers.push(setTimeout(() => this.finish(Status.DEADLINE_EXCEEDED, `deadline of ${ms} ms exceeded`), ms));
  }

  readRequest(entry: Entry, budget: ByteBudget, onRequest: (req: unknown) => void): void {
    const method = entry.method;
    this.budget = budget;
    const decoder = new FrameDecoder(entry.maxRequestBytes, `${method.name} request message`);
    const messages: Buffer[] = [];
    const stalled = setTimeout(() => {
      this.finish(Status.CANCELLED, `request not received within ${this.opts.requestTimeoutMs} ms; closing the stalled stream`);
    }, this.opts.requestTimeoutMs);
    this.timers.push(stalled);
    this.stream.on("data", (chunk: Buffer) => {
      if (this.done) return;
      try {
        budget.take(chunk.length);
        this.held += chunk.length;
        messages.push(...decoder.push(chunk));
        if (messages.length > 1) throw new GrpcError(Status.UNIMPLEMENTED, `${method.name} takes one request message; got more (client streaming is not supported)`);
      } catch (err) {
        this.fail(err);
      }
    });
    this.stream.once("end", () => {
      clearTimeout(stalled);
      // The body is decoded below (or refused): its bytes no longer count as held.
      this.releaseBuffered();
      if (this.done) return;
      if (decoder.pending > 0) return this.finish(Status.INTERNAL, `request ended inside a message (${decoder.pending} bytes left over)`);
      if (messages.length !== 1) return this.finish(Status.UNIMPLEMENTED, `${method.name} takes exactly one request message; got ${messages.length}`);
      let req: unknown;
      try {
        req = method.requestType.decode(messages[0]!);
      } catch (err) {
        return this.finish(Status.INTERNAL, `request is not a valid ${method.name} request: ${(err as Error).message}`);
      }
      onRequest(req);
    });
  }

  async run(entry: Entry, req: unknown, ctx: CallContext): Promise<void> {
    try {
      if (!entry.method.responseStream) {
        const res = await (entry.fn(req, ctx) as Promise<unknown>);
        if (this.done) return;
        // Message and trailers leave in one go: one write fewer per unary call.
        const frame = this.encodeResponse(entry.method, res);
        this.sendHeaders();
        return this.finish(Status.OK, "", frame);
      }
      for await (const res of entry.fn(req, ctx) as AsyncIterable<unknown>) {
        if (this.done) break; // leaving the loop runs the generator's finally blocks
        const frame = this.encodeResponse(entry.method, res);
        this.sendHeaders();
        if (this.done || this.stream.closed) break;
        if (!this.stream.write(frame)) await this.drained();
      }
      this.finish(Status.OK, "");
    } catch (err) {
      this.fail(err);
    }
  }

  sendHeaders(md: Metadata = {}): void {
    if (this.headersSent || this.done || this.stream.closed) return;
    this.headersSent = true;
    this.stream.respond({ ...GRPC_HEADERS, ...metadataToHeaders(md) }, { waitForTrailers: true });
    this.stream.once("wantTrailers", () => {
      try {
        this.stream.sendTrailers(this.pendingTrailers);
      } catch { /* stream already reset */ }
    });
  }

  private pendingTrailers: Record<string, string> = {};

  /** Ends the call with a status (after `lastFrame`, if given); the first end wins. */
  finish(code: number, details: string, lastFrame?: Buffer): void {
    if (this.done) return;
    this.done = true;
    this.clearTimers();
    this.releaseBuffered();
    if (code !== Status.OK) this.ac.abort(new GrpcError(code, details));
    if (this.stream.closed || this.stream.destroyed) return;
    let trailers: Record<string, string>;
    try {
      trailers = statusHeaders(code, details, metadataToHeaders(this.trailers));
    } catch (err) {
      trailers = statusHeaders(Status.INTERNAL, `bad trailing metadata: ${(err as Error).message}`, {});
    }
    if (!this.headersSent) {
      this.headersSent = true;
      this.stream.respond({ ...GRPC_HEADERS, ...trailers }, { endStream: true });
    } else {
      this.pendingTrailers = trailers;
      if (lastFrame) this.stream.end(lastFrame);
      else this.stream.end();
    }
    // A client still sending (an oversize or endless request) is told to stop.
    if (!this.stream.readableEnded) {
      const s = this.stream;
      setImmediate(() => { if (!s.closed) s.close(http2.constants.NGHTTP2_NO_ERROR); });
    }
  }

  private fail(err: unknown): void {
    const { error, hidden } = statusOf(err);
    if (hidden) this.onHidden(err instanceof Error ? err : new Error(String(err)));
    this.finish(error.code, error.details);
  }

  /** One response as a frame; throws INTERNAL if it does not encode, RESOURCE_EXHAUSTED if too big. */
  private encodeResponse(method: AnyMethod, res: unknown): Buffer {
    let bytes: Uint8Array;
    try {
      bytes = method.responseType.encode(res).finish();
    } catch (err) {
      throw new GrpcError(Status.INTERNAL, `cannot encode ${method.name} response: ${(err as Error).message}`);
    }
    if (bytes.byteLength > this.opts.maxSendMessageBytes) {
      throw new GrpcError(Status.RESOURCE_EXHAUSTED, `${method.name} response of ${bytes.byteLength} bytes is larger than the limit of ${this.opts.maxSendMessageBytes} bytes`);
    }
    return encodeFrame(bytes);
  }

  /** Resolves when the stream can take more data or the call is over. */
  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.stream.off("drain", done);
        this.ac.signal.removeEventListener("abort", done);
        resolve();
      };
      this.stream.once("drain", done);
      this.ac.signal.addEventListener("abort", done, { once: true });
    });
  }

  private clearTimers(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
  }
}

/**
 * Bytes held on behalf of callers, under a cap, and under its parent's (a connection's budget
 * under the server's). take() throws RESOURCE_EXHAUSTED rather than exceed either.
 */
class ByteBudget {
  private used = 0;
  constructor(private readonly limit: number, private readonly what: string, private readonly parent?: ByteBudget) {}

  take(n: number): void {
    if (this.used + n > this.limit) {
      throw new GrpcError(Status.RESOURCE_EXHAUSTED, `request bodies held for ${this.what} would exceed ${this.limit} bytes; try again later`);
    }
    this.parent?.take(n);
    this.used += n;
  }

  release(n: number): void {
    this.used = Math.max(0, this.used - n);
    this.parent?.release(n);
  }
}

/**
 * Passes connection-level failures to onError at a bounded rate: the first of a kind (`where`)
 * at once, later ones within the interval counted and told as one summary when it ends.
 */
class ErrorReporter {
  private readonly pending = new Map<string, { count: number; last: Error; timer: ReturnType<typeof setTimeout> }>();

  constructor(private readonly intervalMs: number, private readonly onError?: (err: Error, where: string) => void) {}

  report(err: Error, where: string): void {
    if (!this.onError) return;
    const p = this.pending.get(where);
    if (p) {
      p.count++;
      p.last = err;
      return;
    }
    this.onError(err, where);
    const entry = { count: 0, last: err, timer: setTimeout(() => this.flush(where), this.intervalMs) };
    entry.timer.unref?.();
    this.pending.set(where, entry);
  }

  private flush(where: string): void {
    const p = this.pending.get(where);
    if (!p) return;
    if (p.count === 0) {
      this.pending.delete(where);
      return;
    }
    this.onError!(new Error(`${p.count} more in the last ${Math.round(this.intervalMs / 1000)} s (last: ${p.last.message})`), where);
    // Still failing: the next summary comes after another interval (one line per interval).
    p.count = 0;
    p.timer = setTimeout(() => this.flush(where), this.intervalMs);
    p.timer.unref?.();
  }

  /** Tells what is still counted, and stops the timers (the server closes). */
  flushAll(): void {
    for (const where of [...this.pending.keys()]) {
      const p = this.pending.get(where)!;
      clearTimeout(p.timer);
      if (p.count > 0) this.onError!(new Error(`${p.count} more (last: ${p.last.message})`), where);
      this.pending.delete(where);
    }
  }
}

function statusHeaders(code: number, details: string, extra: Record<string, string>): Record<string, string> {
  const h: Record<string, string> = { ...extra, "grpc-status": String(code) };
  if (details) h["grpc-message"] = encodeGrpcMessage(details);
  return h;
}

/** A non-gRPC request gets a plain HTTP status, as the gRPC spec asks. */
function plainHttp(stream: http2.ServerHttp2Stream, status: number): void {
  if (!stream.closed) stream.respond({ ":status": status }, { endStream: true });
}
