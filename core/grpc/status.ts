/**
 * gRPC status codes, the error that carries one, and the percent-encoding of grpc-message
 * (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md).
 */
import type { Metadata } from "./metadata.ts";
import { BunkerError, type ErrorCode } from "../errors.ts";

export const Status = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

export type StatusCode = (typeof Status)[keyof typeof Status];

const names = new Map<number, string>(Object.entries(Status).map(([k, v]) => [v, k]));

/** "NOT_FOUND" for 5; "STATUS_42" for codes outside the table. */
export function statusName(code: number): string {
  return names.get(code) ?? `STATUS_${code}`;
}

/**
 * How a call failed on the client's own side of the connection, with no status from the server:
 * what a client needs to decide whether to try another endpoint, read from the connection's
 * state and the system error's code rather than from the text.
 */
export interface ConnectionFailure {
  /** The connection or its TLS handshake failed: no request can have reached the server. */
  beforeHandshake: boolean;
  /** The code of the system error that caused it (ECONNREFUSED, ENOTFOUND, ...), when one did. */
  errno?: string;
  /** The connection closed while the call was under way (after the server's HTTP/2 settings). */
  closedDuringCall?: boolean;
  /**
   * The connection closed after our side of the TLS handshake but before the server spoke
   * HTTP/2: how a TLS 1.3 server refuses a client certificate.
   */
  refusedAfterHandshake?: boolean;
}

/** A failed call: its status code, message and the trailing metadata that came with it. */
export class GrpcError extends Error {
  constructor(
    readonly code: number,
    readonly details: string,
    readonly metadata: Metadata = {},
    /** Set by the client when the connection failed it (no status came from the server). */
    readonly connection?: ConnectionFailure,
  ) {
    super(`${statusName(code)}: ${details}`);
    this.name = "GrpcError";
  }
}

const STATUS_OF: Record<ErrorCode, StatusCode> = {
  invalid_argument: Status.INVALID_ARGUMENT, not_found: Status.NOT_FOUND, already_exists: Status.ALREADY_EXISTS,
  failed_precondition: Status.FAILED_PRECONDITION, aborted: Status.ABORTED, permission_denied: Status.PERMISSION_DENIED,
  unavailable: Status.UNAVAILABLE, deadline_exceeded: Status.DEADLINE_EXCEEDED, resource_exhausted: Status.RESOURCE_EXHAUSTED,
  unimplemented: Status.UNIMPLEMENTED, internal: Status.INTERNAL,
};

/**
 * The trailing metadata key that carries a BunkerError's reason (core/errors.ts): a word a
 * client acts on ("busy": try again) without reading the message.
 */
export const REASON_KEY = "bunker-reason";

/**
 * Whether a call failed before reaching the server, so that no request was sent: the
 * connection was refused, unroutable or unresolvable, or closed before its TLS handshake
 * finished (what a port forward or an L4 load balancer in front of a dead node does).
 */
export function notReached(err: unknown): boolean {
  const c = err instanceof GrpcError && err.code === Status.UNAVAILABLE ? err.connection : undefined;
  return c !== undefined && (c.beforeHandshake || NOT_REACHED_ERRNOS.has(c.errno ?? ""));
}

const NOT_REACHED_ERRNOS = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT"]);

/** Whether the connection closed while the call was under way (after the server had answered the handshake). */
export function closedDuringCall(err: unknown): boolean {
  return err instanceof GrpcError && err.code === Status.UNAVAILABLE && err.connection?.closedDuringCall === true;
}

/** The reason the server gave with a failed call's status, if any (REASON_KEY). */
export function reasonOf(err: unknown): string | undefined {
  if (!(err instanceof GrpcError)) return undefined;
  const r = err.metadata[REASON_KEY];
  return typeof r === "string" ? r : undefined;
}

/** What a caller reads for an error that carries no code: its own text stays on the node. */
export const INTERNAL_MESSAGE = "internal error: the node logged the details";

/**
 * The one place an error becomes a gRPC status (core/errors.ts has the taxonomy). A GrpcError
 * passes as it is, a BunkerError keeps its message under its code's status (and its reason in
 * the trailing metadata, REASON_KEY); anything else is
 * INTERNAL with a fixed message, because an untyped error's text was written for no caller and
 * may hold anything (a path, a key, a token): `hidden` is true then, and the server logs it.
 */
export function statusOf(err: unknown): { error: GrpcError; hidden: boolean } {
  if (err instanceof GrpcError) return { error: err, hidden: false };
  if (err instanceof BunkerError) return { error: new GrpcError(STATUS_OF[err.code], err.message, err.reason ? { [REASON_KEY]: err.reason } : {}), hidden: false };
  return { error: new GrpcError(Status.INTERNAL, INTERNAL_MESSAGE), hidden: true };
}

/**
 * Percent-encodes a grpc-message: bytes outside printable ASCII, and '%', become %XX of their
 * UTF-8 encoding, so any text survives an HTTP/2 header.
 */
export function encodeGrpcMessage(message: string): string {
  let out = "";
  for (const byte of Buffer.from(message, "utf8")) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** Reverses encodeGrpcMessage; a malformed %-sequence is kept as it came (the spec says so). */
export function decodeGrpcMessage(encoded: string): string {
  if (!encoded.includes("%")) return encoded;
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    const hex = encoded.slice(i + 1, i + 3);
    if (encoded[i] === "%" && /^[0-9a-fA-F]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(encoded[i]!, "utf8"));
    }
  }
  return Buffer.from(bytes).toString("utf8");
}
