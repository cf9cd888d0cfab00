/** The types of core/grpc/server.ts: who calls, what a handler sees, and the server's options. */
import type { DetailedPeerCertificate } from "node:tls";
import type { PeerCred } from "../sys/socket.ts";
import type { Metadata } from "./metadata.ts";
import type { AnyMethod, Method } from "./method.ts";

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

export type Entry = { method: AnyMethod; fn: (req: unknown, ctx: CallContext) => unknown; maxRequestBytes: number };
export type Opts = Required<Omit<ServerOptions, "onError" | "authorize">>;
