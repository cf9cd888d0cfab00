/**
 * The shape of a resource: metadata that every resource carries, and a typed spec. Resources are
 * plain data (JSON-serialisable) so they can cross the API unchanged.
 */
import { BunkerError, type ErrorCode } from "../errors.ts";

export type Phase = "running" | "tearingDown";

export interface Metadata {
  namespace: string;
  type: string;
  id: string;
  /** Starts at 1 on create and grows by one on every update. */
  version: number;
  phase: Phase;
  labels: Record<string, string>;
  /** ISO 8601 times. */
  created: string;
  updated: string;
  /** The controller that wrote it, or "" for resources written by hand (config, API). */
  owner: string;
}

export interface Resource<Spec = unknown> {
  metadata: Metadata;
  spec: Spec;
}

/** What names one resource. */
export interface Ref {
  namespace: string;
  type: string;
  id: string;
}

/** What names one kind of resource (all ids of one type in one namespace). */
export interface Kind {
  namespace: string;
  type: string;
}

export type WatchEvent<Spec = unknown> =
  | { type: "Created" | "Updated" | "Destroyed"; resource: Resource<Spec>; old?: Resource<Spec> }
  | { type: "Bootstrapped" };

export function refString(r: Ref): string {
  return `${r.namespace}/${r.type}/${r.id}`;
}

/** The base of every store error, naming the resource concerned. */
export class ResourceError extends BunkerError {
  constructor(readonly ref: Ref, message: string, code: ErrorCode) {
    super(code, `${refString(ref)}: ${message}`);
  }
}
export class NotFoundError extends ResourceError {
  constructor(ref: Ref) { super(ref, "not found", "not_found"); }
}
export class AlreadyExistsError extends ResourceError {
  constructor(ref: Ref) { super(ref, "already exists", "already_exists"); }
}
/** An update named a version that is no longer the current one: someone else wrote first. */
export class ConflictError extends ResourceError {
  constructor(ref: Ref, readonly expected: number, readonly actual: number) {
    super(ref, `version conflict: expected ${expected}, current is ${actual}`, "aborted");
  }
}
/** A write by a controller or owner that does not own the resource. */
export class OwnerError extends ResourceError {
  constructor(ref: Ref, readonly owner: string, readonly writer: string) {
    super(ref, `owned by "${owner || "(none)"}", cannot be written by "${writer || "(none)"}"`, "permission_denied");
  }
}
