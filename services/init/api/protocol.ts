/**
 * The local wire protocol on init's unix socket until the gRPC contract serves there: one JSON
 * object per line. A request is {id, method, params}; the answer is {id, result} or
 * {id, error: {code, message}}; a streaming method sends {id, item} lines and ends with
 * {id, end: true}. {id, cancel: true} from the client stops a stream. Error codes use gRPC's
 * names so the switch to gRPC keeps their meaning.
 */
export type ErrorCode = "invalid_argument" | "not_found" | "already_exists" | "aborted" | "unavailable" | "permission_denied" | "unimplemented" | "internal";

export interface Request { id: number; method: string; params?: Record<string, unknown>; cancel?: boolean }

export type Response =
  | { id: number; result: unknown }
  | { id: number; item: unknown }
  | { id: number; end: true }
  | { id: number; error: { code: ErrorCode; message: string } };

export class ApiError extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
    this.name = "ApiError";
  }
}

export const DEFAULT_NODE_SOCKET = "/system/run/init.sock";
