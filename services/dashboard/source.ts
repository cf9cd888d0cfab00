/**
 * Where the dashboard's data comes from: the node API, the same calls `bunkerctl version`,
 * `services`, `memory`, `logs` and `dmesg` make. A `Caller` is one node's API: on a workstation
 * the mTLS client through apid (bunkerctl's Api bound to a destination), on the node init's
 * local socket. Every refresh asks again (no stream is held open), so switching nodes or log
 * sources costs nothing and a node that went away is simply asked again next time.
 */
import { MachineService as M, ResourceService as R } from "../../core/api/gen/services.ts";
import type { CallOptions, GrpcClient } from "../../core/grpc/client.ts";
import type { Method } from "../../core/grpc/method.ts";
import { ADDRESS_STATUSES, ROUTE_STATUSES, type AddressStatusSpec, type RouteStatusSpec } from "../../core/netresources/kinds.ts";
import { plain } from "../bunkerctl/client/api.ts";
import { GrpcError } from "../../core/grpc/status.ts";
import type { ServiceRow, Snapshot } from "./render.ts";

export interface Caller {
  unary<Req, Res>(m: Method<Req, Res, false>, req: Req, o?: CallOptions): Promise<Res>;
  stream<Req, Res>(m: Method<Req, Res, true>, req: Req, o?: CallOptions): AsyncIterable<Res>;
}

/** A caller over a GrpcClient (init's socket), its messages made plain data as bunkerctl's are. */
export function clientCaller(c: GrpcClient): Caller {
  return {
    unary: async (m, req, o) => plain(m, await c.unary(m, req, o)),
    stream: async function* (m, req, o) {
      for await (const r of c.stream(m, req, o)) yield plain(m, r);
    },
  };
}

const MACHINE_STATUS = { namespace: "runtime", type: "MachineStatuses.runtime.bunker.dev", id: "machine" };

/** What one node's part of the screen needs; the nodes list and the log source come from the caller. */
export type NodeView = Omit<Snapshot, "nodes" | "node" | "logSource">;

/** CPU time of the node's processes at one moment, for the share busy between two refreshes. */
export interface CpuSample { at: number; seconds: Map<number, number> }

export interface Fetched { view: NodeView; cpu?: CpuSample; services: string[] }

/**
 * One refresh of one node: every call at once, each bounded by `timeoutMs`. A call that fails
 * leaves its part empty and names itself in `error` (the others still show).
 */
export async function fetchView(c: Caller, logSource: string, logLines: number, prevCpu: CpuSample | undefined, timeoutMs: number, knownCpus?: number): Promise<Fetched> {
  const o = { timeoutMs };
  const errors: string[] = [];
  const settle = async <T>(what: string, p: Promise<T>): Promise<T | undefined> => {
    try { return await p; } catch (e) { errors.push(`${what}: ${e instanceof GrpcError ? e.details : (e as Error).message}`); return undefined; }
  };
  const list = <T>(kind: { namespace: string; type: string }) => c.unary(R.List, kind, o).then((r) => (r.resources ?? []).map((x) => JSON.parse(x.specJson ?? "{}") as T));
  const [version, status, services, memory, load, cpus, procs, addrs, routes, log] = await Promise.all([
    settle("version", c.unary(M.Version, {}, o)),
    settle("machine status", c.unary(R.Get, MACHINE_STATUS, o)),
    settle("services", c.unary(M.ServiceList, {}, o)),
    settle("memory", c.unary(M.Memory, {}, o)),
    settle("load", c.unary(M.LoadAvg, {}, o)),
    // The CPUs of a running node do not change: asked once.
    knownCpus ? undefined : settle("cpu", c.unary(M.CPUInfo, {}, o)),
    settle("processes", c.unary(M.Processes, {}, o)),
    settle("addresses", list<AddressStatusSpec>(ADDRESS_STATUSES)),
    settle("routes", list<RouteStatusSpec>(ROUTE_STATUSES)),
    settle(`log ${logSource}`, readLog(c, logSource, logLines, o)),
  ]);
  const ms = JSON.parse(status?.resource?.specJson ?? "{}") as { stage?: string; ready?: boolean; unmetConditions?: { name: string; reason: string }[] };
  const rows: ServiceRow[] = (services?.services ?? []).map((s) => ({
    id: s.id ?? "", state: s.state ?? "", restarts: s.restarts ?? 0,
    health: !s.health || s.health.unknown ? "?" : s.health.healthy ? "OK" : "FAIL",
  }));
  const at = Date.now();
  let cpu: CpuSample | undefined;
  let cpuPercent: number | undefined;
  const ncpu = knownCpus || (cpus?.cpus?.length ?? 0);
  if (procs) {
    cpu = { at, seconds: new Map((procs.processes ?? []).map((p) => [p.pid ?? 0, p.cpuSeconds ?? 0])) };
    if (prevCpu && ncpu > 0 && at > prevCpu.at) {
      // Processes alive at both samples: one that came and went between them is not counted.
      let busy = 0;
      for (const [pid, s] of cpu.seconds) {
        const before = prevCpu.seconds.get(pid);
        if (before !== undefined && s >= before) busy += s - before;
      }
      cpuPercent = Math.min(100, (busy / ((at - prevCpu.at) / 1000) / ncpu) * 100);
    }
  }
  const view: NodeView = {
    hostname: version?.hostname ?? "", version: version?.version ?? "",
    stage: ms.stage ?? "?", ready: ms.ready === true, unmet: ms.unmetConditions ?? [],
    addresses: (addrs ?? []).filter((a) => a.scope === "global" && a.link !== "lo").map((a) => ({ link: a.link, address: a.address })),
    routes: (routes ?? []).filter((r) => r.table === 254 || r.table === undefined).map((r) => ({ dst: r.dst, gateway: r.gateway, link: r.link })),
    cpus: ncpu, cpuPercent,
    load: [load?.load1 ?? 0, load?.load5 ?? 0, load?.load15 ?? 0],
    memory: { total: Number(memory?.total ?? 0), available: Number(memory?.available ?? 0) },
    services: rows, log: log ?? [], at,
    ...(errors.length > 0 ? { error: errors.join("; ") } : {}),
  };
  return { view, cpu, services: rows.map((r) => r.id) };
}

/** The last `n` lines of the kernel log or of a service, as the pane shows them. */
async function readLog(c: Caller, source: string, n: number, o: CallOptions): Promise<string[]> {
  const out: string[] = [];
  if (source === "kernel") {
    for await (const e of c.stream(M.Dmesg, { follow: false, tail: n }, o)) {
      const s = Number(e.monotonicUs ?? 0) / 1e6;
      out.push(`[${s.toFixed(3).padStart(9)}] ${e.message ?? ""}`);
    }
  } else {
    for await (const e of c.stream(M.Logs, { id: source, tail: n, follow: false }, o)) {
      out.push(`${new Date(Number(e.time ?? 0)).toISOString().slice(11, 19)} ${e.message ?? ""}`);
    }
  }
  return out.slice(-n);
}
