/**
 * init's local API: MachineService and ResourceService over gRPC (core/grpc, plaintext HTTP/2 on
 * a unix socket). Every call is authorised first (api/authorize.ts, from the kernel's
 * SO_PEERCRED), then runs the contract adapters; handler errors become their gRPC status.
 */
import { chownSync } from "node:fs";
import { MachineService, ResourceService } from "../../../core/api/gen/services.ts";
import type { AnyMethod } from "../../../core/grpc/method.ts";
import { GrpcServer, type CallContext as GrpcContext } from "../../../core/grpc/server.ts";
import { GrpcError, Status } from "../../../core/grpc/status.ts";
import { authorizeCall, type Trust } from "./authorize.ts";
import { machineServiceImpl, resourceServiceImpl } from "./contract.ts";
import { ApiError, toGrpcError } from "./errors.ts";
import { toApiError, type Handlers } from "./handlers.ts";

export interface ServeOptions {
  path: string;
  handlers: Handlers;
  trust: Trust;
  /** Group of the socket file (apid's gid), so apid may connect to the 0660 socket. */
  socketGid?: number;
  onError?: (msg: string) => void;
}

type AnyFn = (req: unknown, ctx: GrpcContext) => unknown;

function toStatus(err: unknown): GrpcError {
  if (err instanceof GrpcError) return err;
  return toGrpcError(err instanceof ApiError ? err : toApiError(err));
}

/** Serves init's API on a unix socket (mode 0660); resolves once listening. */
export async function serveApi(o: ServeOptions): Promise<GrpcServer> {
  const server = new GrpcServer({ onError: (err, where) => o.onError?.(`api: ${where}: ${err.message}`) });
  const admit = (ctx: GrpcContext) => {
    if (ctx.peer.transport !== "unix") throw new GrpcError(Status.PERMISSION_DENIED, "init answers only on its unix socket");
    const v = authorizeCall(ctx.method.path, ctx.peer.uid, ctx.metadata, o.trust);
    if (!v.allowed) throw new GrpcError(Status.PERMISSION_DENIED, v.reason);
  };
  const register = (table: Record<string, AnyMethod>, impl: Record<string, AnyFn>) => {
    for (const [name, method] of Object.entries(table)) {
      const fn = impl[name];
      if (!fn) throw new Error(`init api: no handler for ${method.path}`);
      if (method.responseStream) {
        server.handle(method, async function* (req: unknown, ctx: GrpcContext) {
          admit(ctx);
          try {
            yield* fn(req, ctx) as AsyncIterable<unknown>;
          } catch (err) {
            throw toStatus(err);
          }
        } as never);
      } else {
        server.handle(method, (async (req: unknown, ctx: GrpcContext) => {
          admit(ctx);
          try {
            return await fn(req, ctx);
          } catch (err) {
            throw toStatus(err);
          }
        }) as never);
      }
    }
  };
  register(MachineService as unknown as Record<string, AnyMethod>, machineServiceImpl(o.handlers) as unknown as Record<string, AnyFn>);
  register(ResourceService as unknown as Record<string, AnyMethod>, resourceServiceImpl(o.handlers) as unknown as Record<string, AnyFn>);
  // Only root, init's uid and apid (by SO_PEERCRED) may call; the file mode is a second fence.
  await server.listenUnix(o.path, 0o660);
  if (o.socketGid !== undefined) chownSync(o.path, process.getuid?.() ?? 0, o.socketGid);
  return server;
}
