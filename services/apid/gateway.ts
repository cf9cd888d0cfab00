/**
 * apid's gateway: the API's public face. It serves every RPC of the API over TLS 1.3, decides
 * who the caller is (a client certificate chaining to the cluster CA or an accepted CA, with EKU
 * clientAuth, roles in Subject O), checks the role table, and forwards the call to init's unix
 * socket carrying the verified roles as `x-bunker-roles`. In maintenance mode it asks for no
 * certificate and lets through only the maintenance table, marked `x-bunker-maintenance: 1`.
 *
 * Whatever the client sends in x-bunker-* metadata is dropped: only apid sets those, and init
 * must trust them only from apid's uid (SO_PEERCRED, given to its handlers as ctx.peer).
 *
 * Metadata `node` asks for another node: the call is checked here, then forwarded to that node's
 * apid over mTLS with this node's own certificate, which carries the role os:impersonator; the
 * other apid then applies the original caller's roles (x-bunker-roles), and only from such a
 * certificate. The forwarded call has no `node`, so it cannot bounce further.
 *
 * Only members of the cluster are relayed to: `node` must be on the member list init hands apid
 * (core/api/members.ts). That is decided from the string alone, before any connection, and every
 * other target gets the same refusal, so a caller learns nothing about hosts and ports that are
 * not members. A member that cannot be reached is "unavailable", without socket details.
 */
import type { AddressInfo } from "node:net";
import { networkInterfaces } from "node:os";
import { allMethods, internalMethods } from "../../core/api/gen/services.ts";
import { canonicalAddress } from "../../core/api/members.ts";
import { requestLimit } from "../../core/api/limits.ts";
import { authorize, authorizeMaintenance, formatRoleList, IMPERSONATOR, parseRoleList, parseRoles, type Role } from "../../core/api/roles.ts";
import { GrpcClient, type CallOptions } from "../../core/grpc/client.ts";
import type { Metadata } from "../../core/grpc/metadata.ts";
import type { Method } from "../../core/grpc/method.ts";
import { GrpcServer, type CallContext } from "../../core/grpc/server.ts";
import { closedDuringCall, GrpcError, notReached, REASON_KEY, Status } from "../../core/grpc/status.ts";
import { REASON } from "../../core/errors.ts";
import { PeerPool } from "./peers.ts";

export const EKU_CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
export const ROLES_HEADER = "x-bunker-roles";
export const MAINTENANCE_HEADER = "x-bunker-maintenance";
export const IDENTITY_HEADER = "x-bunker-identity";

export interface GatewayOptions {
  host: string;
  port: number;
  /** PEM of this node's API certificate and key (self-signed in maintenance mode). */
  cert: string;
  key: string;
  /** PEM of the cluster CA and any accepted CAs (rotation); unused in maintenance mode. */
  cas: string[];
  /** PEM of the node client certificate and key for relaying (default: cert and key). */
  clientCert?: string;
  clientKey?: string;
  /** init's unix socket. */
  backend: string;
  /** Port of other nodes' apid, for `node` metadata without a port. Default 50000. */
  peerPort?: number;
  /** Other members' apid (HOST:PORT) that calls may be relayed to; none by default. */
  members?: readonly string[];
  /** A connection to another member is closed after this long without a call (default 60 s). */
  peerIdleMs?: number;
  /** Most connections to other members kept open (default 32; the least recently used goes first). */
  maxPeers?: number;
  maintenance?: boolean;
  onError?: (err: Error, where: string) => void;
}

/** What apid serves and relays with; reloaded on SIGHUP. */
export type Credentials = Pick<GatewayOptions, "cert" | "key" | "cas" | "clientCert" | "clientKey">;

/** Who the caller is, after the checks; or why it may not call. */
export type Caller = { roles: Role[]; identity: string } | { error: GrpcError };

/** The caller of one call, from the TLS peer (pure: unit tested through the gateway). */
export function identify(ctx: CallContext, maintenance: boolean): Caller {
  if (maintenance) return { roles: [], identity: "maintenance" };
  const peer = ctx.peer;
  if (peer.transport !== "tls" || !peer.authorized || !peer.certificate) {
    return { error: new GrpcError(Status.UNAUTHENTICATED, "a client certificate signed by the cluster CA is required (generate one with `bunkerctl gen config`)") };
  }
  const eku = peer.certificate.ext_key_usage ?? [];
  if (!eku.includes(EKU_CLIENT_AUTH)) {
    return { error: new GrpcError(Status.UNAUTHENTICATED, "the client certificate lacks extended key usage clientAuth") };
  }
  const subject = peer.certificate.subject as unknown as Record<string, string | string[] | undefined>;
  const { roles, unknown } = parseRoles(subject.O);
  const cn = subject.CN;
  const identity = Array.isArray(cn) ? cn.join(",") : (cn ?? "");
  if (unknown.includes(IMPERSONATOR)) {
    // Another node's apid relaying a caller it already checked: that caller's roles apply.
    const relayed = ctx.metadata[ROLES_HEADER];
    const who = ctx.metadata[IDENTITY_HEADER];
    return {
      roles: parseRoleList(typeof relayed === "string" ? relayed : undefined),
      identity: `${typeof who === "string" ? who : "?"} via ${identity}`,
    };
  }
  return { roles, identity };
}

export class Gateway {
  readonly server: GrpcServer;
  private readonly backend: GrpcClient;
  private readonly peers: PeerPool;
  private members = new Set<string>();
  private creds: Credentials;
  private address: AddressInfo | undefined;

  constructor(private readonly o: GatewayOptions) {
    // The caller is checked from its certificate and the method before its request body is read.
    this.server = new GrpcServer({ onError: o.onError, authorize: (ctx) => this.preBody(ctx) });
    this.creds = { cert: o.cert, key: o.key, cas: o.cas, clientCert: o.clientCert, clientKey: o.clientKey };
    this.backend = GrpcClient.unix(o.backend);
    this.peers = new PeerPool((address) => GrpcClient.tls({
      address, ca: this.creds.cas, cert: this.creds.clientCert ?? this.creds.cert, key: this.creds.clientKey ?? this.creds.key,
    }), { idleMs: o.peerIdleMs, max: o.maxPeers });
    this.setMembers(o.members ?? []);
    for (const m of allMethods.values()) {
      if (m.responseStream) {
        const method = m as Method<unknown, unknown, true>;
        this.server.handle(method, (req, ctx) => this.forwardStream(method, req, ctx), { maxRequestBytes: requestLimit(m.path) });
      } else {
        const method = m as Method<unknown, unknown, false>;
        this.server.handle(method, (req, ctx) => this.forwardUnary(method, req, ctx), { maxRequestBytes: requestLimit(m.path) });
      }
    }
    // The deny-all side: internal services (ResourcePublisher) are init's alone; no caller, of
    // any role, reaches them through apid.
    for (const m of internalMethods.values()) {
      this.server.handle(m as Method<unknown, unknown, false>, (_req, ctx) => {
        throw new GrpcError(Status.PERMISSION_DENIED, authorize(ctx.method.path, []).reason);
      }, { maxRequestBytes: requestLimit(m.path) });
    }
  }

  async listen(): Promise<AddressInfo> {
    this.address = await this.server.listenTls({
      host: this.o.host, port: this.o.port, key: this.o.key, cert: this.o.cert,
      ca: this.o.maintenance ? undefined : this.o.cas,
      requireClientCert: !this.o.maintenance,
    });
    return this.address;
  }

  /** New certificate or CAs for new connections; open streams continue. */
  setCredentials(c: Credentials): void {
    this.server.setCredentials({ key: c.key, cert: c.cert, ca: this.o.maintenance ? undefined : c.cas });
    // Connections to other nodes are made again with the new certificate.
    this.creds = c;
    this.peers.clear();
  }

  /**
   * The cluster members calls may be relayed to (HOST:PORT; entries that are not addresses are
   * left out). Connections to members no longer listed are closed; calls on them finish.
   */
  setMembers(list: readonly string[]): void {
    const port = this.o.peerPort ?? 50000;
    this.members = new Set(list.flatMap((a) => canonicalAddress(a, port) ?? []));
    this.peers.retain(this.members);
  }

  /** Closes the listener and connections; calls under way get `graceMs` to finish. */
  async close(graceMs = 0): Promise<void> {
    await this.server.close(graceMs);
    this.backend.close();
    this.peers.close();
  }

  /**
   * The caller, checked from the peer and headers alone: its certificate, the role table (or the
   * maintenance table), and a `node` that must be a member. It runs before the body is read (the
   * server's authorize hook) and again in admit(); returns the caller, throws the refusal.
   */
  private preBody(ctx: CallContext): { roles: Role[]; identity: string; relayTo?: string } {
    const maintenance = this.o.maintenance === true;
    const caller = identify(ctx, maintenance);
    if ("error" in caller) throw caller.error;
    const decision = maintenance ? authorizeMaintenance(ctx.method.path) : authorize(ctx.method.path, caller.roles);
    if (!decision.allowed) throw new GrpcError(Status.PERMISSION_DENIED, decision.reason, decision.roleMissing ? { [REASON_KEY]: REASON.missingRole } : {});
    const node = ctx.metadata.node;
    const remote = typeof node === "string" && node !== "" ? node : undefined;
    if (remote && maintenance) {
      throw new GrpcError(Status.PERMISSION_DENIED, "a node in maintenance mode does not proxy to other nodes");
    }
    // A `node` naming this apid itself is served here; any other must be a member.
    const relayTo = remote && !this.isSelf(remote) ? remote : undefined;
    if (relayTo) this.memberAddress(relayTo);
    return { ...caller, relayTo };
  }

  /**
   * Checks the caller; returns where the call goes and the options to call it with. Throws the
   * refusal. A relayed call holds its member connection until `release()`.
   */
  private admit(ctx: CallContext): { target: GrpcClient; opts: CallOptions; relay?: Relay } {
    const maintenance = this.o.maintenance === true;
    const caller = this.preBody(ctx);
    const metadata: Metadata = {};
    for (const [k, v] of Object.entries(ctx.metadata)) if (!k.startsWith("x-bunker-") && k !== "node") metadata[k] = v;
    metadata[ROLES_HEADER] = formatRoleList(caller.roles);
    metadata[IDENTITY_HEADER] = caller.identity.replace(/[^\x20-\x7e]/g, "?");
    if (maintenance) metadata[MAINTENANCE_HEADER] = "1";
    const relay = caller.relayTo ? this.relayTo(caller.relayTo) : undefined;
    return {
      target: relay?.client ?? this.backend,
      relay,
      opts: {
        metadata,
        signal: ctx.signal,
        timeoutMs: ctx.deadline === undefined ? undefined : Math.max(0, ctx.deadline - Date.now()),
        onMetadata: (md) => ctx.sendMetadata(md),
        onTrailers: (md) => { if (relay) relay.answered = true; ctx.setTrailers(md); },
      },
    };
  }

  /**
   * The connection for a call relayed to `node`, which must be a member; anything else gets one
   * refusal, the same for every non-member, before any connection or name lookup.
   */
  private relayTo(node: string): Relay {
    const { client, release } = this.peers.acquire(this.memberAddress(node));
    return { client, release, node: shown(node), answered: false };
  }

  /** The member address `node` names; throws the one refusal every non-member gets. */
  private memberAddress(node: string): string {
    const address = canonicalAddress(node, this.o.peerPort ?? 50000);
    if (address === undefined || !this.members.has(address)) {
      throw new GrpcError(Status.PERMISSION_DENIED, `node ${shown(node)} is not a member of this cluster`, { [REASON_KEY]: REASON.notMember });
    }
    return address;
  }

  /** "host" or "host:port" (IPv6 in brackets with a port) as host:port, the peer port by default. */
  private peerAddress(node: string): string {
    return /^\[.*\]:\d+$|^[^:]+:\d+$/.test(node) ? node : `${node.includes(":") ? `[${node}]` : node}:${this.o.peerPort ?? 50000}`;
  }

  /**
   * True when `node` is this apid itself (one of this machine's addresses, or localhost, at the
   * port it listens on): such a call is served here, not relayed through a TLS loop to itself
   * (an operator's client config often names the node by its own address).
   */
  private isSelf(node: string): boolean {
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(this.peerAddress(node));
    if (!m || Number(m[2]) !== this.address?.port) return false;
    const host = m[1]!.toLowerCase();
    if (host === "localhost") return true;
    return Object.values(networkInterfaces()).some((list) => (list ?? []).some((a) => a.address.replace(/%.*$/, "").toLowerCase() === host));
  }

  private async forwardUnary(m: Method<unknown, unknown, false>, req: unknown, ctx: CallContext): Promise<unknown> {
    const { target, opts, relay } = this.admit(ctx);
    try {
      return await target.unary(m, req, opts);
    } catch (err) {
      throw relay ? relayError(err, relay) : backendError(err);
    } finally {
      relay?.release();
    }
  }

  private async *forwardStream(m: Method<unknown, unknown, true>, req: unknown, ctx: CallContext): AsyncGenerator<unknown> {
    const { target, opts, relay } = this.admit(ctx);
    try {
      yield* target.stream(m, req, opts);
    } catch (err) {
      throw relay ? relayError(err, relay) : backendError(err);
    } finally {
      relay?.release();
    }
  }
}

/** A call relayed to a member: its connection, and whether the member's apid gave a status. */
interface Relay {
  client: GrpcClient;
  release: () => void;
  /** The caller's `node`, printable. */
  node: string;
  /** The member sent trailers: its status is its own answer and passes back unchanged. */
  answered: boolean;
}

/** A caller's `node` value fit for a message: printable ASCII, at most 100 characters. */
function shown(node: string): string {
  const s = node.replace(/[^\x20-\x7e]/g, "?");
  return s.length > 100 ? `${s.slice(0, 100)}...` : s;
}

/**
 * A relayed call's failure as the caller sees it: the member's own status when it answered; the
 * caller's own deadline or cancel; else only "unavailable", whatever the socket, TLS or HTTP/2
 * layer said, so the relay reveals nothing about the network behind it.
 */
function relayError(err: unknown, relay: Relay): GrpcError {
  if (err instanceof GrpcError && (relay.answered || err.code === Status.DEADLINE_EXCEEDED || err.code === Status.CANCELLED)) return err;
  return new GrpcError(Status.UNAVAILABLE, `node ${relay.node} is unavailable`);
}

/** A backend failure as the client should see it: its own status, or UNAVAILABLE. */
function backendError(err: unknown): GrpcError {
  if (err instanceof GrpcError) {
    // What apid's own client saw of its connection to init does not cross the wire by itself:
    // a reason tells the caller (another endpoint may be tried; a power action went through).
    const reason = notReached(err) ? REASON.unreachable : closedDuringCall(err) ? REASON.closed : undefined;
    return reason ? new GrpcError(err.code, err.details, { ...err.metadata, [REASON_KEY]: reason }) : err;
  }
  return new GrpcError(Status.UNAVAILABLE, `the node's API is not reachable: ${(err as Error)?.message ?? String(err)}`);
}
