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
import type { TLSSocket } from "node:tls";
import { peerCred } from "../sys/socket.ts";
import { headersToMetadata, parseTimeout } from "./metadata.ts";
import type { AnyMethod } from "./method.ts";
import { GrpcError, Status } from "./status.ts";
import { ErrorReporter } from "./error-reporter.ts";
import { ByteBudget, ServerCall } from "./server-call.ts";
import type { CallContext, Entry, HandlerOf, HandleOptions, Opts, Peer, ServerOptions, TlsListenOptions } from "./server-types.ts";

export type {
  CallContext, HandlerOf, HandleOptions, Peer, PreBodyCheck, ServerOptions, StreamHandler, TlsListenOptions, UnaryHandler,
} from "./server-types.ts";

type H2Server = http2.Http2Server | http2.Http2SecureServer;

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
        call.trailers = { ...call.trailers, ...e.metadata };
        return call.finish(e.code, e.details);
      }
    }
    if (timeoutMs !== undefined) call.startDeadline(timeoutMs);
    call.readRequest(entry, budget, (req) => void call.run(entry, req, ctx));
  }
}

/** A non-gRPC request gets a plain HTTP status, as the gRPC spec asks. */
function plainHttp(stream: http2.ServerHttp2Stream, status: number): void {
  if (!stream.closed) stream.respond({ ":status": status }, { endStream: true });
}
