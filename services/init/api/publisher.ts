/**
 * bunker.internal.v1.ResourcePublisher: how a service under init writes the resources it owns
 * (networkd: links, addresses, routes, ...) into init's store. Served only on init's unix
 * socket. The writer is known by the peer's uid (SO_PEERCRED), never by what it claims: each
 * publishing service runs under its own uid, declared in the service table with the kinds it
 * publishes, and its writes are stored with the service id as owner, so a service can touch only
 * resources it owns of the kinds it declared. Everyone else, root included, is refused.
 */
import type { ResourcePublisher } from "../../../core/api/gen/services.ts";
import type { Peer } from "../../../core/grpc/server.ts";
import { GrpcError, Status } from "../../../core/grpc/status.ts";
import type { RequestOf, ResponseOf } from "../../../core/grpc/method.ts";
import { OwnerError, type Kind, type Store } from "../../../core/resources/index.ts";

/** One service that may publish: its uid, the owner name its writes carry, and its kinds. */
export interface PublisherEntry { uid: number; owner: string; kinds: readonly Kind[] }

type Impl = {
  [K in keyof typeof ResourcePublisher]: (req: RequestOf<(typeof ResourcePublisher)[K]>, ctx: { peer: Peer }) => Promise<ResponseOf<(typeof ResourcePublisher)[K]>>;
};

interface Published { id?: string | null; specJson?: string | null; labels?: Record<string, string> | null }

export function resourcePublisherImpl(store: Store, publishers: () => readonly PublisherEntry[]): Impl {
  /** The caller's entry and the kind it writes, or the refusal. */
  const admit = (peer: Peer, namespace: string | null | undefined, type: string | null | undefined): { who: PublisherEntry; kind: Kind } => {
    if (peer.transport !== "unix") throw new GrpcError(Status.PERMISSION_DENIED, "ResourcePublisher is served only on init's local socket");
    const who = publishers().find((p) => p.uid === peer.uid);
    if (!who) throw new GrpcError(Status.PERMISSION_DENIED, `uid ${peer.uid} publishes no resources (only the uids of services that declare what they publish may)`);
    const kind = { namespace: namespace ?? "", type: type ?? "" };
    if (!who.kinds.some((k) => k.namespace === kind.namespace && k.type === kind.type)) {
      throw new GrpcError(Status.PERMISSION_DENIED, `${who.owner} (uid ${peer.uid}) may not publish ${kind.namespace}/${kind.type}; it may publish ${who.kinds.map((k) => `${k.namespace}/${k.type}`).join(", ")}`);
    }
    return { who, kind };
  };

  const parse = (r: Published | null | undefined, where: string): { id: string; spec: unknown; labels: Record<string, string> } => {
    const id = r?.id ?? "";
    if (!id) throw new GrpcError(Status.INVALID_ARGUMENT, `${where}: id is empty`);
    let spec: unknown;
    try {
      spec = JSON.parse(r?.specJson || "null");
    } catch (err) {
      throw new GrpcError(Status.INVALID_ARGUMENT, `${where} ${id}: spec_json is not JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
    return { id, spec, labels: { ...(r?.labels ?? {}) } };
  };

  /** Store errors as statuses: someone else's resource is a refusal, not an internal error. */
  const guarded = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof OwnerError) throw new GrpcError(Status.PERMISSION_DENIED, err.message);
      throw err;
    }
  };

  const put = (kind: Kind, owner: string, r: { id: string; spec: unknown; labels: Record<string, string> }) => {
    const ref = { ...kind, id: r.id };
    const before = store.get(ref)?.metadata.version;
    const after = store.modify(ref, () => r.spec, { owner, labels: r.labels });
    return { version: after.metadata.version, created: before === undefined, changed: before !== after.metadata.version };
  };

  return {
    async Put(req, ctx) {
      const { who, kind } = admit(ctx.peer, req.namespace, req.type);
      const r = parse(req.resource, `put ${kind.type}`);
      const out = guarded(() => put(kind, who.owner, r));
      return { version: out.version, changed: out.changed };
    },
    async Delete(req, ctx) {
      const { who, kind } = admit(ctx.peer, req.namespace, req.type);
      const ref = { ...kind, id: req.id ?? "" };
      if (!store.get(ref)) return { existed: false };
      guarded(() => store.destroy(ref, { owner: who.owner }));
      return { existed: true };
    },
    async Replace(req, ctx) {
      const { who, kind } = admit(ctx.peer, req.namespace, req.type);
      const items = (req.resources ?? []).map((r) => parse(r, `replace ${kind.type}`));
      const ids = new Set<string>();
      for (const r of items) {
        if (ids.has(r.id)) throw new GrpcError(Status.INVALID_ARGUMENT, `replace ${kind.type}: id ${r.id} appears twice`);
        ids.add(r.id);
      }
      // Checked before anything is written: a refused replace changes nothing.
      for (const r of items) {
        const cur = store.get({ ...kind, id: r.id });
        if (cur && cur.metadata.owner !== who.owner) throw new GrpcError(Status.PERMISSION_DENIED, new OwnerError({ ...kind, id: r.id }, cur.metadata.owner, who.owner).message);
      }
      const res = { created: 0, updated: 0, unchanged: 0, destroyed: 0 };
      for (const r of items) {
        const out = put(kind, who.owner, r);
        if (out.created) res.created++;
        else if (out.changed) res.updated++;
        else res.unchanged++;
      }
      for (const cur of store.list(kind)) {
        if (cur.metadata.owner === who.owner && !ids.has(cur.metadata.id)) {
          store.destroy({ ...kind, id: cur.metadata.id }, { owner: who.owner });
          res.destroyed++;
        }
      }
      return res;
    },
  };
}
