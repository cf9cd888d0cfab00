/**
 * init's local API: MachineService and ResourceService over gRPC (core/grpc, plaintext HTTP/2 on
 * a unix socket). Every call is authorised first (api/authorize.ts, from the kernel's
 * SO_PEERCRED), then runs the contract adapters. A handler's error becomes its gRPC status in
 * core/grpc (statusOf): BunkerError codes map one to one, anything else is INTERNAL.
 */
import { chownSync } from "node:fs";
import { MachineService, ResourcePublisher, ResourceService } from "../../../core/api/gen/services.ts";
import type { Store } from "../../../core/resources/index.ts";
import type { AnyMethod } from "../../../core/grpc/method.ts";
import { GrpcServer, type CallContext as GrpcContext } from "../../../core/grpc/server.ts";
import { REASON } from "../../../core/errors.ts";
import { GrpcError, REASON_KEY, Status } from "../../../core/grpc/status.ts";
import { authorizeCall, type Trust } from "./authorize.ts";
import { requestLimit } from "../../../core/api/limits.ts";
import { resourcePublisherImpl, type PublisherEntry } from "./publisher.ts";
import { machineServiceImpl, resourceServiceImpl } from "./contract.ts";
import type { Handlers } from "./handlers.ts";

export interface ServeOptions {
  path: string;
  handlers: Handlers;
  trust: Trust;
  /** Group of the socket file (apid's gid), so apid may connect to the 0660 socket. */
  socketGid?: number;
  /** The internal ResourcePublisher: the store it writes and who may publish what. */
  publisher?: { store: Store; publishers: () => readonly PublisherEntry[] };
  onError?: (msg: string) => void;
}

type AnyFn = (req: unknown, ctx: GrpcContext) => unknown;

/** Serves init's API on a unix socket (mode 0660); resolves once listening. */
export async function serveApi(o: ServeOptions): Promise<GrpcServer> {
  const server = new GrpcServer({
    onError: (err, where) => o.onError?.(`api: ${where}: ${err.message}`),
    // Who may call what is known from SO_PEERCRED and the headers: refused calls send no body.
    authorize: (ctx) => authorizeHeaders(ctx),
    // apid carries every API caller's calls over one connection (each client connection of apid
    // is capped at 100 streams itself): streams beyond this would queue behind open `logs -f`.
    maxConcurrentStreams: 4096,
    maxBufferedBytesPerConnection: 32 * 1024 * 1024,
  });
  const authorizeHeaders = (ctx: GrpcContext) => {
    if (ctx.peer.transport !== "unix") throw new GrpcError(Status.PERMISSION_DENIED, "init answers only on its unix socket");
    const v = authorizeCall(ctx.method.path, ctx.peer.uid, ctx.metadata, o.trust);
    if (!v.allowed) throw new GrpcError(Status.PERMISSION_DENIED, v.reason, v.roleMissing ? { [REASON_KEY]: REASON.missingRole } : {});
  };
  const admit = (ctx: GrpcContext, req: unknown) => {
    if (ctx.peer.transport !== "unix") throw new GrpcError(Status.PERMISSION_DENIED, "init answers only on its unix socket");
    const v = authorizeCall(ctx.method.path, ctx.peer.uid, ctx.metadata, o.trust);
    if (!v.allowed) {
      const word = v.roleMissing ? REASON.missingRole : v.configTaken ? REASON.configTaken : undefined;
      throw new GrpcError(v.configTaken ? Status.FAILED_PRECONDITION : Status.PERMISSION_DENIED, v.reason, word ? { [REASON_KEY]: word } : {});
    }
    // A service reads only its kinds, named in full (no aliases: they could be re-pointed).
    if (v.via === "service" && ctx.method.service === "bunker.resource.v1.ResourceService") {
      const r = req as { namespace?: string | null; type?: string | null };
      if (!v.reads.some((k) => k.type === r.type && (!r.namespace || r.namespace === k.namespace))) {
        throw new GrpcError(Status.PERMISSION_DENIED, `service ${v.service} may read only ${v.reads.map((k) => `${k.namespace}/${k.type}`).join(", ")}, not ${r.namespace || "(default)"}/${r.type}`);
      }
    }
    // A sensitive type is admin-only for Get, List and Watch alike, whoever relayed the call:
    // the whole call is refused rather than answered with the specs left out, so a reader
    // learns nothing of it (not even which ids exist). Checked here, in init, so apid's table
    // and relaying cannot open it.
    if (v.via !== "service" && ctx.method.service === "bunker.resource.v1.ResourceService" && !v.roles.includes("os:admin")) {
      const type = String((req as { type?: string | null }).type ?? "").toLowerCase();
      const d = o.handlers["resources.definitions"]().find((x) => x.aliases.includes(type));
      if (d?.sensitive) {
        throw new GrpcError(Status.PERMISSION_DENIED, `resource type ${d.type} is sensitive: only os:admin may read it (the caller has ${v.roles.length ? v.roles.join(", ") : "no role"})`);
      }
    }
  };
  const register = (table: Record<string, AnyMethod>, impl: Record<string, AnyFn>) => {
    for (const [name, method] of Object.entries(table)) {
      const fn = impl[name];
      if (!fn) throw new Error(`init api: no handler for ${method.path}`);
      if (method.responseStream) {
        server.handle(method, async function* (req: unknown, ctx: GrpcContext) {
          admit(ctx, req);
          yield* fn(req, ctx) as AsyncIterable<unknown>;
        } as never, { maxRequestBytes: requestLimit(method.path) });
      } else {
        server.handle(method, (async (req: unknown, ctx: GrpcContext) => {
          admit(ctx, req);
          return await fn(req, ctx);
        }) as never, { maxRequestBytes: requestLimit(method.path) });
      }
    }
  };
  register(MachineService as unknown as Record<string, AnyMethod>, machineServiceImpl(o.handlers) as unknown as Record<string, AnyFn>);
  register(ResourceService as unknown as Record<string, AnyMethod>, resourceServiceImpl(o.handlers) as unknown as Record<string, AnyFn>);
  if (o.publisher) {
    const p = o.publisher;
    register(ResourcePublisher as unknown as Record<string, AnyMethod>, resourcePublisherImpl(p.store, p.publishers) as unknown as Record<string, AnyFn>);
  }
  // Only root, init's uid, apid and publishing services (by SO_PEERCRED) may call; the file mode
  // is a second fence (its group is the API group, which apid and networkd run as).
  await server.listenUnix(o.path, 0o660);
  if (o.socketGid !== undefined) chownSync(o.path, process.getuid?.() ?? 0, o.socketGid);
  return server;
}
