/**
 * A small client of etcd 3.4's API (gRPC, as etcdctl speaks it, and /health), over mutual
 * TLS with a certificate from the etcd CA: what init needs to join a cluster (member list, add as
 * a learner, promote) and to report on it (status per member). Errors are EtcdError, naming the
 * endpoint and what etcd said; nothing is logged here.
 */
import { BunkerError } from "../errors.ts";
import { request } from "node:https";
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

/** etcd did not answer, or answered with an error: UNAVAILABLE to an API caller. */
export class EtcdError extends BunkerError {
  constructor(readonly endpoint: string, message: string, readonly status?: number) {
    super("unavailable", `etcd at ${endpoint}: ${message}`);
    this.name = "EtcdError";
  }
}

/**
 * The slice of etcd's API (etcdserverpb, rpc.proto of etcd 3.4) this needs, by etcd's own field
 * numbers. Debian's etcd has no JSON gateway, so the calls go over gRPC, as etcdctl's do. The
 * few messages are coded here by hand, with BigInt for the 64-bit member ids: the protobuf
 * runtime the API uses is set to plain numbers for every message (core/api/gen), which would
 * round these ids.
 */
type Field = bigint | Uint8Array;

function varint(n: bigint): number[] {
  const out: number[] = [];
  let v = BigInt.asUintN(64, n);
  while (v >= 0x80n) { out.push(Number(v & 0x7fn) | 0x80); v >>= 7n; }
  out.push(Number(v));
  return out;
}

/** Encodes fields in order: a bigint or boolean as a varint, a string as bytes. */
function encode(fields: [number, bigint | boolean | string][]): Uint8Array {
  const out: number[] = [];
  for (const [n, v] of fields) {
    if (typeof v === "string") {
      const b = Buffer.from(v, "utf8");
      out.push(...varint(BigInt((n << 3) | 2)), ...varint(BigInt(b.length)), ...b);
    } else {
      out.push(...varint(BigInt(n << 3)), ...varint(typeof v === "boolean" ? (v ? 1n : 0n) : v));
    }
  }
  return Uint8Array.from(out);
}

/** Every field of a message by number (varints as bigint, length-delimited as bytes; others skipped). */
function decode(buf: Uint8Array): Map<number, Field[]> {
  const out = new Map<number, Field[]>();
  let i = 0;
  const readVarint = (): bigint => {
    let r = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (i >= buf.length || shift > 63n) throw new Error("truncated or overlong varint");
      const b = buf[i++]!;
      r |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return r;
    }
  };
  while (i < buf.length) {
    const tag = readVarint();
    const n = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    let v: Field;
    if (wire === 0) v = readVarint();
    else if (wire === 2) {
      const len = Number(readVarint());
      if (i + len > buf.length) throw new Error("truncated field");
      v = buf.subarray(i, i + len);
      i += len;
    } else if (wire === 1) { i += 8; continue; } else if (wire === 5) { i += 4; continue; } else throw new Error(`wire type ${wire} not expected`);
    out.set(n, [...(out.get(n) ?? []), v]);
  }
  return out;
}

const txt = (f: Field | undefined) => (f instanceof Uint8Array ? Buffer.from(f).toString("utf8") : "");
const num = (f: Field | undefined) => (typeof f === "bigint" ? f : 0n);
const texts = (fs: Field[] | undefined) => (fs ?? []).map(txt);

function decodeMember(b: Uint8Array): EtcdMember {
  const f = decode(b);
  return { id: num(f.get(1)?.[0]).toString(), name: txt(f.get(2)?.[0]), peerURLs: texts(f.get(3)), clientURLs: texts(f.get(4)), isLearner: num(f.get(5)?.[0]) === 1n };
}
const members = (fs: Field[] | undefined) => (fs ?? []).filter((x): x is Uint8Array => x instanceof Uint8Array).map(decodeMember);

type Msg = Map<number, Field[]>;
const raw: Codec<Msg> = { encode: () => { throw new Error("responses only"); }, decode };
const requestOf = (fields: [number, bigint | boolean | string][]): Codec<null> => ({ encode: () => ({ finish: () => encode(fields) }), decode: () => null });

function method(service: "Cluster" | "Maintenance", name: string, fields: [number, bigint | boolean | string][] = []): Method<null, Msg, false> {
  return { path: `/etcdserverpb.${service}/${name}`, service: `etcdserverpb.${service}`, name, responseStream: false, requestType: requestOf(fields), responseType: raw };
}
const SNAPSHOT: Method<null, Msg, true> = { ...method("Maintenance", "Snapshot"), responseStream: true };

const hostPort = (endpoint: string) => {
  const u = new URL(endpoint);
  return `${u.hostname}:${u.port || "2379"}`;
};

/** One gRPC call to `endpoint` (https://HOST:PORT), on a connection of its own; the answer's fields. */
async function call(endpoint: string, m: Method<null, Msg, false>, tls: EtcdTls, timeoutMs = 5000): Promise<Msg> {
  let client: GrpcClient;
  try { client = GrpcClient.tls({ address: hostPort(endpoint), ca: tls.ca, cert: tls.cert, key: tls.key }); } catch (err) {
    throw new EtcdError(endpoint, err instanceof Error ? err.message : String(err));
  }
  try {
    return await client.unary(m, null, { timeoutMs });
  } catch (err) {
    throw new EtcdError(endpoint, `${m.name}: ${err instanceof GrpcError ? err.details : err instanceof Error ? err.message : String(err)}`);
  } finally {
    client.close();
  }
}

export async function memberList(endpoint: string, tls: EtcdTls, timeoutMs?: number): Promise<EtcdMember[]> {
  return members((await call(endpoint, method("Cluster", "MemberList"), tls, timeoutMs)).get(2));
}

/** Adds a member by its peer URLs (as a learner by default); the new member and the list after. */
export async function memberAdd(endpoint: string, peerURLs: string[], tls: EtcdTls, learner = true): Promise<{ member: EtcdMember; members: EtcdMember[] }> {
  const r = await call(endpoint, method("Cluster", "MemberAdd", [...peerURLs.map((u): [number, string] => [1, u]), [2, learner]]), tls);
  const added = members(r.get(2))[0];
  if (!added) throw new EtcdError(endpoint, "MemberAdd answered without the new member");
  return { member: added, members: members(r.get(3)) };
}

/** Makes a learner a voting member; etcd refuses while it has not caught up with the leader. */
export async function memberPromote(endpoint: string, id: string, tls: EtcdTls): Promise<void> {
  await call(endpoint, method("Cluster", "MemberPromote", [[1, BigInt(id)]]), tls);
}

export async function memberRemove(endpoint: string, id: string, tls: EtcdTls): Promise<void> {
  await call(endpoint, method("Cluster", "MemberRemove", [[1, BigInt(id)]]), tls);
}

export async function status(endpoint: string, tls: EtcdTls, timeoutMs?: number): Promise<EtcdStatus> {
  const r = await call(endpoint, method("Maintenance", "Status"), tls, timeoutMs);
  const h = r.get(1)?.[0];
  const header = h instanceof Uint8Array ? decode(h) : new Map<number, Field[]>();
  return {
    endpoint, memberId: num(header.get(2)?.[0]).toString(), leader: num(r.get(4)?.[0]).toString(), raftIndex: num(r.get(5)?.[0]).toString(),
    raftTerm: num(r.get(6)?.[0]).toString(), dbSize: Number(num(r.get(3)?.[0])), version: txt(r.get(2)?.[0]), isLearner: num(r.get(10)?.[0]) === 1n, errors: texts(r.get(8)),
  };
}

/** Makes `targetId` the leader; etcd takes this only from the leader's own endpoint. */
export async function moveLeader(endpoint: string, targetId: string, tls: EtcdTls): Promise<void> {
  await call(endpoint, method("Maintenance", "MoveLeader", [[1, BigInt(targetId)]]), tls, 15_000);
}

/** Defragments the database of the member at `endpoint` (it blocks that member meanwhile: give it time). */
export async function defragment(endpoint: string, tls: EtcdTls, timeoutMs = 120_000): Promise<void> {
  await call(endpoint, method("Maintenance", "Defragment"), tls, timeoutMs);
}

/** etcd's alarm types (etcdserverpb.AlarmType), by name. */
export const ALARMS = ["NONE", "NOSPACE", "CORRUPT"] as const;
export type AlarmName = (typeof ALARMS)[number];
export interface EtcdAlarm { memberId: string; alarm: AlarmName | string }

/**
 * The cluster's alarms (Alarm GET), or, with `deactivate`/`activate`, that action on one alarm;
 * the alarms etcd answers with. Alarms are the cluster's: any member answers for all.
 */
export async function alarm(endpoint: string, tls: EtcdTls, action: "get" | "activate" | "deactivate" = "get", target?: EtcdAlarm, timeoutMs?: number): Promise<EtcdAlarm[]> {
  const code = { get: 0n, activate: 1n, deactivate: 2n }[action];
  const type = target ? BigInt(Math.max(0, ALARMS.indexOf(target.alarm as AlarmName))) : 0n;
  const r = await call(endpoint, method("Maintenance", "Alarm", [[1, code], [2, BigInt(target?.memberId ?? "0")], [3, type]]), tls, timeoutMs);
  return (r.get(2) ?? []).filter((x): x is Uint8Array => x instanceof Uint8Array).map((b) => {
    const f = decode(b);
    const n = Number(num(f.get(2)?.[0]));
    return { memberId: num(f.get(1)?.[0]).toString(), alarm: ALARMS[n] ?? `ALARM${n}` };
  });
}

/**
 * etcd's snapshot of its database (Maintenance.Snapshot), chunk by chunk as etcd sends them;
 * throws EtcdError when etcd fails part-way (what was yielded is then no whole snapshot).
 */
export async function* snapshot(endpoint: string, tls: EtcdTls, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  const client = GrpcClient.tls({ address: hostPort(endpoint), ca: tls.ca, cert: tls.cert, key: tls.key });
  try {
    for await (const r of client.stream(SNAPSHOT, null, { signal })) {
      const blob = r.get(3)?.[0];
      if (blob instanceof Uint8Array && blob.length) yield blob;
    }
  } catch (err) {
    throw new EtcdError(endpoint, `Snapshot: ${err instanceof GrpcError ? err.details : err instanceof Error ? err.message : String(err)}`);
  } finally {
    client.close();
  }
}

/**
 * One connection to one member, kept open across calls (a load test's puts; the calls above each
 * open their own, which suits their rare use). Errors are EtcdError.
 */
export class EtcdConnection {
  private readonly client: GrpcClient;
  constructor(readonly endpoint: string, tls: EtcdTls) {
    this.client = GrpcClient.tls({ address: hostPort(endpoint), ca: tls.ca, cert: tls.cert, key: tls.key });
  }

  /** KV.Put of one key (etcd answers once the write is committed by a quorum). */
  async put(key: string, value: string, timeoutMs = 10_000): Promise<void> {
    const m: Method<null, Msg, false> = { ...method("Cluster", "Put", [[1, key], [2, value]]), path: "/etcdserverpb.KV/Put", service: "etcdserverpb.KV" };
    try {
      await this.client.unary(m, null, { timeoutMs });
    } catch (err) {
      throw new EtcdError(this.endpoint, `Put: ${err instanceof GrpcError ? err.details : err instanceof Error ? err.message : String(err)}`);
    }
  }

  close(): void { this.client.close(); }
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
