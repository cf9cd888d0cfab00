/**
 * Errors of init's API handlers, named like gRPC's status codes so the transport maps them one
 * to one, and where init's socket lives on a node.
 */
import { GrpcError, Status, type StatusCode } from "../../../core/grpc/status.ts";

export type ErrorCode =
  | "invalid_argument" | "not_found" | "already_exists" | "aborted" | "unavailable" | "permission_denied"
  | "unimplemented" | "internal" | "failed_precondition";

export class ApiError extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
    this.name = "ApiError";
  }
}

const STATUS: Record<ErrorCode, StatusCode> = {
  invalid_argument: Status.INVALID_ARGUMENT, not_found: Status.NOT_FOUND, already_exists: Status.ALREADY_EXISTS,
  aborted: Status.ABORTED, unavailable: Status.UNAVAILABLE, permission_denied: Status.PERMISSION_DENIED,
  unimplemented: Status.UNIMPLEMENTED, internal: Status.INTERNAL, failed_precondition: Status.FAILED_PRECONDITION,
};

/** The gRPC status an ApiError travels as. */
export function toGrpcError(e: ApiError): GrpcError {
  return new GrpcError(STATUS[e.code], e.message);
}

export const DEFAULT_NODE_SOCKET = "/system/run/init.sock";
