/**
 * A small client of etcd 3.4's API (gRPC, as etcdctl speaks it, and /health), over mutual
 * TLS with a certificate from the etcd CA: what init needs to join a cluster (member list, add as
 * a learner, promote) and to report on it (status per member). Errors are EtcdError, naming the
 * endpoint and what etcd said; nothing is logged here.
 */
import { request } from "node:https";
import Long from "long";
import protobuf from "protobufjs";
import { GrpcClient } from "../grpc/client.ts";
import type { Codec, Method } from "../grpc/method.ts";
import { GrpcError } from "../grpc/status.ts";

export interface EtcdTls {
  /** PEM texts: the etcd CA certificate, and the client's certificate and key. */
  ca: string;
  cert: string;
  key: string;
}

export interface EtcdMember {
  /** uint64, kept as a decimal string (etcd's JSON gateway sends it so; it exceeds 2^53). */
  id: string;
  /** Empty while the member has been added but has not started yet. */
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

export interface EtcdStatus {
  endpoint: string;
  memberId: string;
  leader: string;
  raftIndex: string;
  raftTerm: string;
  dbSize: number;
  version: string;
  isLearner: boolean;
  errors: string[];
}

export class EtcdError extends Error {
  constructor(readonly endpoint: string, message: string, readonly status?: number) {
    super(`etcd at ${endpoint}: ${message}`);
    this.name = "EtcdError";
  }
}

/**
 * The slice of etcd's API (etcdserverpb, rpc.proto of etcd 3.4) this needs, with etcd's own
 * field numbers. Debian's etcd has no JSON gateway, so the calls go over gRPC, as etcdctl's do.
 */
const PROTO = `
syntax = "proto3";
package etcdserverpb;
message ResponseHeader { uint64 cluster_id = 1; uint64 member_id = 2; int64 revision = 3; uint64 raft_term = 4; }
message Member { uint64 ID = 1; string name = 2; repeated string peerURLs = 3; repeated string clientURLs = 4; bool isLearner = 5; }
message MemberAddRequest { repeated string peerURLs = 1; bool isLearner = 2; }
message MemberAddResponse { ResponseHeader header = 1; Member member = 2; repeated Member members = 3; }
message MemberRemoveRequest { uint64 ID = 1; }
message MemberRemoveResponse { ResponseHeader header = 1; repeated Member members = 2; }
message MemberListRequest {}
message MemberListResponse { ResponseHeader header = 1; repeated Member members = 2; }
message MemberPromoteRequest { uint64 ID = 1; }
message MemberPromoteResponse { ResponseHeader header = 1; repeated Member members = 2; }
message StatusRequest {}
message StatusResponse { ResponseHeader header = 1; string version = 2; int64 dbSize = 3; uint64 leader = 4; uint64 raftIndex = 5; uint64 raftTerm = 6; uint64 raftAppliedIndex = 7; repeated string errors = 8; int64 dbSizeInUse = 9; bool isLearner = 10; }
`;
// Member ids use all 64 bits: without Long they would be rounded to a double (and not found).
// protobufjs looks for it with a dynamic require, which a compiled binary does not resolve.
if (!protobuf.util.Long) { protobuf.util.Long = Long; protobuf.configure(); }
const root = protobuf.parse(PROTO, { keepCase: true }).root;

/** A protobufjs reflected type as the gRPC client's codec; 64-bit integers as decimal strings. */
function codec(name: string): Codec<Record<string, unknown>> {
  const t = root.lookupType(`etcdserverpb.${name}`);
  return {
    encode: (m) => t.encode(t.fromObject(m)),
    decode: (b) => t.toObject(t.decode(b), { longs: String, defaults: true, arrays: true }) as Record<string, unknown>,
  };
}

function method(service: "Cluster" | "Maintenance", name: string, req: string, res: string): Method<Record<string, unknown>, Record<string, unknown>, false> {
  return { path: `/etcdserverpb.${service}/${name}`, service: `etcdserverpb.${service}`, name, responseStream: false, requestType: codec(req), responseType: codec(res) };
}

const RPC = {
  MemberList: method("Cluster", "MemberList", "MemberListRequest", "MemberListResponse"),
  MemberAdd: method("Cluster", "MemberAdd", "MemberAddRequest", "MemberAddResponse"),
  MemberRemove: method("Cluster", "MemberRemove", "MemberRemoveRequest", "MemberRemoveResponse"),
  MemberPromote: method("Cluster", "MemberPromote", "MemberPromoteRequest", "MemberPromoteResponse"),
  Status: method("Maintenance", "Status", "StatusRequest", "StatusResponse"),
} as const;

const hostPort = (endpoint: string) => {
  const u = new URL(endpoint);
  return `${u.hostname}:${u.port || "2379"}`;
};

/** One gRPC call to `endpoint` (https://HOST:PORT), on a connection of its own. */
async function call(endpoint: string, rpc: keyof typeof RPC, request: Record<string, unknown>, tls: EtcdTls, timeoutMs = 5000): Promise<Record<string, unknown>> {
  let client: GrpcClient;
  try { client = GrpcClient.tls({ address: hostPort(endpoint), ca: tls.ca, cert: tls.cert, key: tls.key }); } catch (err) {
    throw new EtcdError(endpoint, err instanceof Error ? err.message : String(err));
  }
  try {
    return await client.unary(RPC[rpc], request, { timeoutMs });
  } catch (err) {
    throw new EtcdError(endpoint, `${rpc}: ${err instanceof GrpcError ? err.details : err instanceof Error ? err.message : String(err)}`);
  } finally {
    client.close();
  }
}

type RawMember = { ID?: string; name?: string; peerURLs?: string[]; clientURLs?: string[]; isLearner?: boolean };
const member = (m: RawMember): EtcdMember => ({
  id: String(m.ID ?? "0"), name: m.name ?? "", peerURLs: m.peerURLs ?? [], clientURLs: m.clientURLs ?? [], isLearner: m.isLearner === true,
});

export async function memberList(endpoint: string, tls: EtcdTls, timeoutMs?: number): Promise<EtcdMember[]> {
  const r = await call(endpoint, "MemberList", {}, tls, timeoutMs) as { members?: RawMember[] };
  return (r.members ?? []).map(member);
}

/** Adds a member by its peer URLs (as a learner by default); the new member and the list after. */
export async function memberAdd(endpoint: string, peerURLs: string[], tls: EtcdTls, learner = true): Promise<{ member: EtcdMember; members: EtcdMember[] }> {
  const r = await call(endpoint, "MemberAdd", { peerURLs, isLearner: learner }, tls) as { member?: RawMember; members?: RawMember[] };
  if (!r.member) throw new EtcdError(endpoint, "MemberAdd answered without the new member");
  return { member: member(r.member), members: (r.members ?? []).map(member) };
}

/** Makes a learner a voting member; etcd refuses while it has not caught up with the leader. */
export async function memberPromote(endpoint: string, id: string, tls: EtcdTls): Promise<void> {
  await call(endpoint, "MemberPromote", { ID: id }, tls);
}

export async function memberRemove(endpoint: string, id: string, tls: EtcdTls): Promise<void> {
  await call(endpoint, "MemberRemove", { ID: id }, tls);
}

export async function status(endpoint: string, tls: EtcdTls, timeoutMs?: number): Promise<EtcdStatus> {
  const r = await call(endpoint, "Status", {}, tls, timeoutMs) as {
    header?: { member_id?: string; raft_term?: string }; version?: string; dbSize?: string; leader?: string; raftIndex?: string; raftTerm?: string; errors?: string[]; isLearner?: boolean;
  };
  return {
    endpoint, memberId: String(r.header?.member_id ?? "0"), leader: String(r.leader ?? "0"), raftIndex: String(r.raftIndex ?? "0"),
    raftTerm: String(r.raftTerm ?? "0"), dbSize: Number(r.dbSize ?? 0), version: r.version ?? "", isLearner: r.isLearner === true, errors: r.errors ?? [],
  };
}

/** etcd's own health endpoint (plain HTTPS on the client port): resolves when it answers {"health":"true"}. */
export function health(endpoint: string, tls: EtcdTls, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(new URL("/health", endpoint), { ca: tls.ca, cert: tls.cert, key: tls.key, timeout: timeoutMs }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => { if (text.length < 4096) text += c; });
      res.on("end", () => {
        let h: { health?: string; reason?: string } = {};
        try { h = JSON.parse(text); } catch { /* said below */ }
        if (h.health === "true") resolve();
        else reject(new EtcdError(endpoint, `unhealthy: ${h.reason ?? text.trim().slice(0, 200)}`));
      });
      res.on("error", (e) => reject(new EtcdError(endpoint, `/health: ${e.message}`)));
    });
    req.on("timeout", () => req.destroy(new EtcdError(endpoint, `/health: no answer within ${timeoutMs} ms`)));
    req.on("error", (e) => reject(e instanceof EtcdError ? e : new EtcdError(endpoint, `/health: ${e.message}`)));
    req.end();
  });
}

/** The decimal member id etcdctl prints in hex (`member list -w table`), for messages. */
export const hexId = (id: string): string => BigInt(id).toString(16);
