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
import { GrpcError, Status } from "../../core/grpc/status.ts";
import { busySeconds, type CpuTime } from "../../core/procfs/systemstat.ts";
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

/** The node's CPU time since boot at one moment (/proc/stat), for the share busy between two refreshes. */
export interface CpuSample { busy: number; total: number }

export interface Fetched { view: NodeView; cpu?: CpuSample; services: string[] }

/**
 * One refresh of one node: every call at once, each bounded by `timeoutMs`. A call that fails
 * leaves its part empty and names itself in `error` (the others still show). The CPU share
 * comes from SystemStat, one small file on the node: every process's CPU time (Processes) was
 * the most costly part of a refresh, and on an emulated CPU it cost the node more than the rest.
 */
export async function fetchView(c: Caller, logSource: string, logLines: number, prevCpu: CpuSample | undefined, timeoutMs: number): Promise<Fetched> {
  const o = { timeoutMs };
  const errors: string[] = [];
  const settle = async <T>(what: string, p: Promise<T>): Promise<T | undefined> => {
    try { return await p; } catch (e) { errors.push(`${what}: ${e instanceof GrpcError ? e.details : (e as Error).message}`); return undefined; }
  };
  const list = <T>(kind: { namespace: string; type: string }) => c.unary(R.List, kind, o).then((r) => (r.resources ?? []).map((x) => JSON.parse(x.specJson ?? "{}") as T));
  // A node from before SystemStat has no CPU share to give: shown without one, not as an error.
  const systemStat = c.unary(M.SystemStat, {}, o).catch((e) => {
    if (e instanceof GrpcError && e.code === Status.UNIMPLEMENTED) return undefined;
    throw e;
  });
  const [version, status, services, memory, load, stat, addrs, routes, log] = await Promise.all([
    settle("version", c.unary(M.Version, {}, o)),
    settle("machine status", c.unary(R.Get, MACHINE_STATUS, o)),
    settle("services", c.unary(M.ServiceList, {}, o)),
    settle("memory", c.unary(M.Memory, {}, o)),
    settle("load", c.unary(M.LoadAvg, {}, o)),
    settle("cpu", systemStat),
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
  if (stat?.cpuTotal) {
    const t = cpuTime(stat.cpuTotal);
    const busy = busySeconds(t);
    cpu = { busy, total: busy + t.idle + t.iowait };
    if (prevCpu && cpu.total > prevCpu.total) cpuPercent = Math.min(100, Math.max(0, ((cpu.busy - prevCpu.busy) / (cpu.total - prevCpu.total)) * 100));
  }
  const view: NodeView = {
    hostname: version?.hostname ?? "", version: version?.version ?? "",
    stage: ms.stage ?? "?", ready: ms.ready === true, unmet: ms.unmetConditions ?? [],
    addresses: (addrs ?? []).filter((a) => a.scope === "global" && a.link !== "lo").map((a) => ({ link: a.link, address: a.address })),
    routes: (routes ?? []).filter((r) => r.table === 254 || r.table === undefined).map((r) => ({ dst: r.dst, gateway: r.gateway, link: r.link })),
    cpus: stat?.cpu?.length ?? 0, cpuPercent,
    load: [load?.load1 ?? 0, load?.load5 ?? 0, load?.load15 ?? 0],
    memory: { total: Number(memory?.total ?? 0), available: Number(memory?.available ?? 0) },
    services: rows, log: log ?? [], at,
    ...(errors.length > 0 ? { error: errors.join("; ") } : {}),
  };
  return { view, cpu, services: rows.map((r) => r.id) };
}

/** A CPUTime message as plain data: a state the kernel did not count is absent, so 0. */
function cpuTime(m: Partial<Record<keyof CpuTime, number | null>>): CpuTime {
  const v = (k: keyof CpuTime) => Number(m[k] ?? 0);
  return { user: v("user"), nice: v("nice"), system: v("system"), idle: v("idle"), iowait: v("iowait"), irq: v("irq"), softIrq: v("softIrq"), steal: v("steal") };
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
