/**
 * One error taxonomy for the whole program: an error that a caller should be able to tell
 * apart carries a code, set where it is thrown, never guessed later from its message text.
 * The codes are named after gRPC's status codes because the API is where they end up: the gRPC
 * server maps them to a status in one place (core/grpc/status.ts, statusOf); every other error
 * is INTERNAL there, its text kept off the wire (it may hold anything, a key included).
 */

export type ErrorCode =
  | "invalid_argument"    // the caller's input is wrong; the same call will fail again
  | "not_found"           // what the call names does not exist
  | "already_exists"      // what the call would create exists
  | "failed_precondition" // the node is not in a state where the call can work; change it first
  | "aborted"             // lost a race (a version conflict); retrying the whole step may work
  | "permission_denied"   // the caller, or the writer, may not do this
  | "unavailable"         // busy or unreachable for now; the same call may work later
  | "deadline_exceeded"   // did not finish in the time given
  | "resource_exhausted"  // a limit was reached (size, count)
  | "unimplemented"       // not supported by this node
  | "internal";           // a fault of the node, not of the call

/**
 * The reasons a client acts on, finer than a code (BunkerError.reason; on the wire the trailing
 * metadata core/grpc/status.ts REASON_KEY): busy, the same call works once what runs has ended;
 * unreachable, the node's API was not reached, so no request was sent and another endpoint may
 * be tried; closed, the connection closed during the call (a power action under way);
 * not-member, the relay refused a node that is not (yet) a member; missing-role, the caller's
 * certificate holds none of the roles the call needs; config-taken, a maintenance-mode
 * ApplyConfiguration came after the node's first config was taken (it is committed, or being
 * committed): a client whose own earlier try lost its answer knows its config went in.
 */
export const REASON = { busy: "busy", unreachable: "unreachable", closed: "closed", notMember: "not-member", missingRole: "missing-role", configTaken: "config-taken" } as const;

/** An error with a code; its message is meant for the caller and must hold no secret. */
export class BunkerError extends Error {
  /**
   * A word a program reading the error may act on, finer than the code ("busy": the same call
   * works once what runs has ended). The gRPC server sends it beside the status.
   */
  readonly reason: string | undefined;

  constructor(readonly code: ErrorCode, message: string, options?: { cause?: unknown; reason?: string }) {
    super(message, options);
    this.name = new.target.name;
    this.reason = options?.reason;
  }
}

/** The code of any thrown value: a BunkerError's own, "internal" for everything else. */
export function errorCode(err: unknown): ErrorCode {
  return err instanceof BunkerError ? err.code : "internal";
}
