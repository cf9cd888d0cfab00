/**
 * Calls to nodes: one gRPC connection per endpoint (mTLS, or TLS without verification and
 * without a client certificate in maintenance mode), the next endpoint tried when one cannot
 * be reached, and the `node` metadata that makes the endpoint's apid relay to another node.
 */
import { MachineService } from "../../../core/api/gen/services.ts";
import { GrpcClient, type CallOptions } from "../../../core/grpc/client.ts";
import type { Method } from "../../../core/grpc/method.ts";
import { GrpcError, notReached, reasonOf, Status } from "../../../core/grpc/status.ts";
import { REASON } from "../../../core/errors.ts";
import { DEFAULT_API_PORT, normalizeEndpoint, sameHost, type Target } from "./target.ts";
import { doublingDelay } from "../../../core/time/backoff.ts";
import type { bunker } from "../../../core/api/gen/api.js";

/** One place a command's call goes: the name printed in the NODE column and how to reach it. */
export interface Destination {
  label: string;
  /** Value of the `node` metadata, unless the endpoint dialled is this node itself. */
  node?: string;
  /** Endpoints to try, in order. */
  endpoints: string[];
}

/** "10.0.0.2" for "10.0.0.2:50000": the default port is not worth a column's width. */
const shortLabel = (endpoint: string) => endpoint.endsWith(`:${DEFAULT_API_PORT}`) ? endpoint.slice(0, -String(DEFAULT_API_PORT).length - 1).replace(/^\[(.*)\]$/, "$1") : endpoint;

/** The destinations of a target: one per node, or the first reachable endpoint when no node is named. */
export function destinations(t: Target): Destination[] {
  if (t.nodes.length === 0) return [{ label: shortLabel(t.endpoints[0]!), endpoints: t.endpoints }];
  // Maintenance mode relays nothing: each node is dialled itself.
  if (t.insecure) return t.nodes.map((n) => ({ label: n, endpoints: [normalizeEndpoint(n)] }));
  return t.nodes.map((n) => ({ label: n, node: n, endpoints: t.endpoints }));
}

/**
 * A decoded message as plain data with every field present (zero values included), so json and
 * yaml output has the same keys whatever the values; int64 as numbers.
 */
export function plain<T>(m: Method<unknown, T, boolean>, msg: T): T {
  const withObject = m.responseType as unknown as { toObject?: (msg: T, o: object) => T };
  return withObject.toObject ? withObject.toObject(msg, { defaults: true, longs: Number, arrays: true, objects: true }) : msg;
}

/**
 * Did the call fail before reaching the node's API (worth trying the next endpoint)? Besides a
 * refused or unroutable connection, one closed before its TLS handshake finished: what a port
 * forward or an L4 load balancer in front of a dead node does. No request was sent either way.
 */
function unreachable(err: unknown): boolean {
  // Our own connection (typed by the client), or apid's to the node's init (its reason).
  return notReached(err) || (err instanceof GrpcError && err.code === Status.UNAVAILABLE && reasonOf(err) === REASON.unreachable);
}

/**
 * The node answered that it is busy. A node from before error reasons sends the same UNAVAILABLE
 * with no reason, so no reason counts as busy. Its apid relaying to a node it cannot reach also
 * answers UNAVAILABLE with no reason; that is asked again too, which costs at most the five
 * bounded tries before its answer is shown. Only a status the server sent counts: a connection
 * that failed or closed on our side (GrpcError.connection) is not an answer, and a call cut off
 * mid-way may have been applied (a node leaving maintenance mode restarts its API).
 */
export function busy(err: unknown): boolean {
  if (!(err instanceof GrpcError) || err.code !== Status.UNAVAILABLE || err.connection !== undefined) return false;
  const reason = reasonOf(err);
  return reason === REASON.busy || reason === undefined;
}

export class Api {
  private readonly clients = new Map<string, GrpcClient>();

  constructor(readonly target: Target, readonly timeoutMs: number) {}

  private client(endpoint: string): GrpcClient {
    let c = this.clients.get(endpoint);
    if (!c) {
      const t = this.target;
      c = t.insecure
        ? GrpcClient.tls({ address: endpoint, insecure: true, pinSha256: t.pinSha256 })
        : GrpcClient.tls({ address: endpoint, ca: t.ca, cert: t.cert, key: t.key });
      this.clients.set(endpoint, c);
    }
    return c;
  }

  private options(d: Destination, endpoint: string, o: CallOptions): CallOptions {
    const relay = d.node !== undefined && !sameHost(d.node, endpoint);
    return { ...o, metadata: { ...o.metadata, ...(relay ? { node: d.node! } : {}) } };
  }

  /** A unary call with the command's timeout (unless `o` sets one). */
  async unary<Req, Res>(m: Method<Req, Res, false>, req: Req, d: Destination, o: CallOptions = {}): Promise<Res> {
    let last: unknown;
    for (const ep of d.endpoints) {
      try {
        return plain(m, await this.client(ep).unary(m, req, this.options(d, ep, { timeoutMs: this.timeoutMs, ...o })));
      } catch (e) {
        last = e;
        if (!unreachable(e)) throw e;
      }
    }
    throw last;
  }

  /**
   * A server stream; the next endpoint is tried only if nothing came yet. No deadline unless
   * `o` sets one (a followed stream runs until the caller stops); then a Version call first,
   * bounded by the command's timeout, tells an unreachable node from a quiet stream.
   */
  async *stream<Req, Res>(m: Method<Req, Res, true>, req: Req, d: Destination, o: CallOptions = {}): AsyncGenerator<Res> {
    let last: unknown;
    for (const ep of d.endpoints) {
      let got = false;
      try {
        if (o.timeoutMs === undefined) await this.client(ep).unary(MachineService.Version, {}, this.options(d, ep, { timeoutMs: this.timeoutMs }));
        for await (const r of this.client(ep).stream(m, req, this.options(d, ep, o))) {
          got = true;
          yield plain(m, r);
        }
        return;
      } catch (e) {
        last = e;
        if (got || !unreachable(e)) throw e;
      }
    }
    throw last;
  }

  /**
   * ApplyConfiguration, asked again while the node answers that its config checker is busy
   * (UNAVAILABLE "busy: ..."; other callers' configs fill its queue): up to 5 tries, 0.5 s doubling.
   */
  async apply(req: bunker.machine.v1.IApplyConfigurationRequest, d: Destination): Promise<bunker.machine.v1.IApplyConfigurationResponse> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.unary(MachineService.ApplyConfiguration, req, d);
      } catch (e) {
        if (!busy(e) || attempt >= 5) throw e;
        await Bun.sleep(doublingDelay(attempt, 500, 4000));
      }
    }
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
