/**
 * The handlers in the shape of the gRPC contract (core/api/proto): one function per RPC of
 * MachineService and ResourceService, taking and returning the generated message properties
 * (a wrong field is a type error), registered by api/server.ts on init's socket.
 */
import { release } from "node:os";
import { bunker } from "../../../core/api/gen/api.js";
import type { MachineService, ResourceService } from "../../../core/api/gen/services.ts";
import type { RequestOf, ResponseOf } from "../../../core/grpc/method.ts";
import type { Resource, ResourceDefinition, WatchEvent } from "../../../core/resources/index.ts";
import type { EventSpec } from "../resources.ts";
import type { ApplyMode, CallContext, Handlers, LogPiece } from "./handlers.ts";
import { BunkerError } from "../../../core/errors.ts";
import { MAX_CONFIG_BYTES, oversizeMessage } from "../../../core/config/config.ts";
import { readers } from "./readers.ts";
import { listFiles, readFile } from "./files.ts";
import { generateClientConfiguration } from "./clientcreds.ts";

/** Server-streaming RPCs (the generated table types the flag as boolean, so they are named here). */
type Impl<S, Streaming> = {
  [K in keyof S]: K extends Streaming
    ? (req: RequestOf<S[K]>, ctx: CallContext) => AsyncGenerator<ResponseOf<S[K]>>
    : (req: RequestOf<S[K]>, ctx: CallContext) => Promise<ResponseOf<S[K]>>;
};

const pb = bunker.machine.v1;
const rpb = bunker.resource.v1;
const ms = (iso: string | undefined) => (iso ? Date.parse(iso) : 0);

const APPLY_MODES: Record<number, ApplyMode> = {
  [pb.ApplyMode.APPLY_MODE_AUTO]: "auto", [pb.ApplyMode.APPLY_MODE_LIVE]: "live", [pb.ApplyMode.APPLY_MODE_REBOOT]: "reboot",
  [pb.ApplyMode.APPLY_MODE_STAGED]: "staged", [pb.ApplyMode.APPLY_MODE_TRY]: "try",
};
const APPLY_MODE_NUM: Record<string, number> = Object.fromEntries(Object.entries(APPLY_MODES).map(([n, s]) => [s, Number(n)]));

export function toProtoResource(r: Resource) {
  const m = r.metadata;
  return {
    metadata: {
      namespace: m.namespace, type: m.type, id: m.id, version: m.version, phase: m.phase === "tearingDown" ? "tearing-down" : "running",
      labels: m.labels, created: ms(m.created), updated: ms(m.updated), owner: m.owner, annotations: {},
    },
    specJson: JSON.stringify(r.spec),
  };
}

/** "LinkStatuses" -> "LinkStatus", "Processes" -> "Process", "MachineStages" -> "MachineStage". */
export function singular(plural: string): string {
  return plural.replace(/(?<=s)es$|s$/, "");
}

export function toProtoDefinition(d: ResourceDefinition) {
  return {
    type: d.type, displayType: singular(d.type.split(".")[0]!), aliases: d.aliases, defaultNamespace: d.namespace,
    printColumns: d.columns.map((c) => ({ name: c.name, jsonPath: `{.${c.path.replace(/^spec\./, "")}}` })), sensitive: d.sensitive === true,
  };
}

const WATCH_TYPE: Record<WatchEvent["type"], number> = {
  Created: rpb.EventType.EVENT_TYPE_CREATED, Updated: rpb.EventType.EVENT_TYPE_UPDATED,
  Destroyed: rpb.EventType.EVENT_TYPE_DESTROYED, Bootstrapped: rpb.EventType.EVENT_TYPE_BOOTSTRAPPED,
};

export function machineServiceImpl(h: Handlers): Impl<typeof MachineService, "Logs" | "Dmesg" | "Events" | "List" | "Read" | "EtcdSnapshot"> {
  // A line is dated by the piece that ended it: when its newline was written.
  const lines = async function* (pieces: AsyncIterable<LogPiece>) {
    let rest = "";
    let last: LogPiece | undefined;
    for await (const p of pieces) {
      last = p;
      const parts = (rest + p.text).split("\n");
      rest = parts.pop()!;
      for (const message of parts) yield { time: p.time, stream: p.stream, message };
    }
    if (rest && last) yield { time: last.time, stream: last.stream, message: rest };
  };
  return {
    async Version() {
      const v = h.version();
      const status = h["machine.status"]();
      return {
        version: v.version, commit: v.commit, built: v.built, bunVersion: v.bun, arch: process.arch, kernel: release(),
        maintenance: status?.stage === "maintenance", hostname: h.hostname()?.hostname ?? "",
      };
    },
    async Hostname() { return { hostname: h.hostname()?.hostname ?? "" }; },
    async ServiceList() {
      return {
        services: h["services.list"]().map((s) => ({
          id: s.id, state: s.state, pid: s.pid ?? 0, restarts: s.restarts,
          health: {
            unknown: s.healthy === undefined, healthy: s.healthy === true,
            message: s.healthy === false ? ([...s.events].reverse().find((e) => e.health === "failed")?.message ?? "") : "",
            lastChange: ms([...s.events].reverse().find((e) => e.health)?.time),
          },
          events: s.events.map((e) => ({ time: ms(e.time), state: e.state, message: e.message })),
          lastExit: s.lastExit ? { time: ms(s.lastExit.time), code: s.lastExit.code ?? 0, signal: s.lastExit.signal ?? "", output: s.lastExit.output ?? [] } : undefined,
        })),
      };
    },
    async ServiceStart(req) { h["services.start"]({ id: req.id }); return { id: req.id ?? "", message: "service started" }; },
    async ServiceStop(req) { await h["services.stop"]({ id: req.id }); return { id: req.id ?? "", message: "service stopped" }; },
    async ServiceRestart(req) { await h["services.restart"]({ id: req.id }); return { id: req.id ?? "", message: "service restarted" }; },
    async *Logs(req, ctx) {
      const tail = req.tail === -1 ? Number.MAX_SAFE_INTEGER : Math.max(0, req.tail ?? 0);
      yield* lines(h.logs({ id: req.id, tail, follow: req.follow === true }, ctx));
    },
    Dmesg: readers.Dmesg,
    async *Events(req, ctx) {
      const tail = req.tailEvents === -1 || !req.tailEvents ? 1000 : req.tailEvents;
      let skipping = !!req.sinceId;
      for await (const ev of h.events({ tail: req.sinceId ? 1000 : tail, follow: req.follow === true }, ctx)) {
        if (ev.type === "Bootstrapped" || ev.type === "Destroyed") continue;
        const id = ev.resource.metadata.id;
        if (skipping) { if (id === req.sinceId) skipping = false; continue; }
        const spec = ev.resource.spec as EventSpec;
        const fields = Object.fromEntries(Object.entries(spec.data ?? {}).map(([k, v]) => [k, String(v)]));
        yield { id, time: ms(spec.time), type: spec.source.split("/")[0]!, source: spec.source, message: spec.message, fields };
      }
    },
    async Reboot() { h.reboot(); return { actorId: "" }; },
    async Shutdown() { h.shutdown(); return { actorId: "" }; },
    async Reset(req) { h.reset({ graceful: req.graceful === true, reboot: req.reboot === true, wipeVolumes: req.wipeVolumes ?? [] }); return { actorId: "" }; },
    async ApplyConfiguration(req) {
      const mode = APPLY_MODES[req.mode ?? 0];
      if (!mode) throw new BunkerError("invalid_argument", `mode ${req.mode}: unknown`);
      // Refused before decoding: the body may be up to the transport's 4 MiB.
      const size = req.data?.length ?? 0;
      if (size > MAX_CONFIG_BYTES) throw new BunkerError("invalid_argument", oversizeMessage(size));
      const r = await h["apply-config"]({ data: new TextDecoder().decode(req.data ?? new Uint8Array()), mode, dryRun: req.dryRun === true, tryTimeoutSeconds: req.tryTimeoutSeconds ?? 0 });
      return {
        mode: APPLY_MODE_NUM[r.mode]!, message: r.message, diff: r.diff, warnings: r.warnings, tryDeadline: r.tryDeadline,
        changes: r.changes.map((c) => ({ path: c.path, kind: c.kind, effect: c.live ? pb.ChangeEffect.CHANGE_EFFECT_LIVE : pb.ChangeEffect.CHANGE_EFFECT_REBOOT })),
      };
    },
    async ConfirmConfiguration() { return h["confirm-config"](); },
    async MachineConfiguration() {
      const raw = h["config.raw"]();
      if (raw === undefined) throw new BunkerError("failed_precondition", "no machine config has been applied yet (maintenance mode): apply one with apply-config");
      return { data: new TextEncoder().encode(raw) };
    },
    Memory: readers.Memory, LoadAvg: readers.LoadAvg, CPUInfo: readers.CPUInfo, SystemStat: readers.SystemStat,
    Processes: readers.Processes, Mounts: readers.Mounts, Netstat: readers.Netstat, Disks: readers.Disks,
    async *List(req, ctx) {
      yield* listFiles(req.root ?? "", h.fileRoots(), { recurse: req.recurse === true, depth: req.recursionDepth ?? 0, signal: ctx.signal });
    },
    async *Read(req, ctx) {
      for await (const data of readFile(req.path ?? "", h.fileRoots(), ctx.signal)) yield { data };
    },
    async GenerateClientConfiguration(req) {
      return generateClientConfiguration(h.config(), { roles: req.roles ?? [], ttlSeconds: req.ttlSeconds ?? 0, context: req.context ?? "" });
    },
    async Upgrade(req) { return { ...(await h.upgrade({ image: req.image, stage: req.stage === true, force: req.force === true })), actorId: "" }; },
    async Rollback(req) { return h.rollback({ force: req.force === true }); },
    async Bootstrap(req) { return h.bootstrap({ recover: req.recover === true, sha256: req.recoverSha256 ?? "" }); },
    async MetaRead(req) { return h["meta.read"](req.key ?? 0); },
    async MetaWrite(req) { return h["meta.write"](req.key ?? 0, req.value ?? new Uint8Array()); },
    async MetaDelete(req) { return h["meta.delete"](req.key ?? 0); },
    async EtcdRecoverUpload(req) { return h["etcd.recover-upload"](Number(req.offset ?? 0), req.data ?? new Uint8Array()); },
    async EtcdForfeitLeadership() { return h["etcd.forfeit-leadership"](); },
    async EtcdDefragment() { return h["etcd.defrag"](); },
    async EtcdAlarmList() { return h["etcd.alarms"](); },
    async EtcdAlarmDisarm() { return h["etcd.disarm"](); },
    async EtcdRemoveMember(req) { return h["etcd.remove-member"](req.memberId ?? ""); },
    async EtcdLeaveCluster() { return h["etcd.leave"](); },
    async *EtcdSnapshot(_req, ctx) {
      for await (const data of h["etcd.snapshot"](ctx.signal)) yield { data };
    },
  };
}

export function resourceServiceImpl(h: Handlers): Impl<typeof ResourceService, "Watch"> {
  const def = (type: string) => h["resources.definitions"]().find((d) => d.type === type);
  return {
    async Get(req) {
      const r = h["resources.get"]({ type: req.type, id: req.id, namespace: req.namespace ?? "" });
      return { resource: toProtoResource(r), definition: toProtoDefinition(def(r.metadata.type)!) };
    },
    async List(req) {
      const rs = h["resources.list"]({ type: req.type, namespace: req.namespace ?? "" });
      const sel = Object.entries(req.labelSelector ?? {});
      const kept = rs.filter((r) => sel.every(([k, v]) => r.metadata.labels[k] === v));
      const d = h["resources.definitions"]().find((x) => x.aliases.includes((req.type ?? "").toLowerCase()));
      return { resources: kept.map(toProtoResource), definition: d ? toProtoDefinition(d) : undefined };
    },
    async *Watch(req, ctx) {
      let first = true;
      let bootstrapped = false;
      const d = h["resources.definitions"]().find((x) => x.aliases.includes((req.type ?? "").toLowerCase()));
      const sel = Object.entries(req.labelSelector ?? {});
      for await (const ev of h["resources.watch"]({ type: req.type, id: req.id ?? "", namespace: req.namespace ?? "" }, ctx)) {
        if (!req.bootstrap && !bootstrapped && ev.type !== "Bootstrapped") continue; // the snapshot, not asked for
        if (ev.type === "Bootstrapped") {
          bootstrapped = true;
          if (!req.bootstrap) continue;
          yield { type: WATCH_TYPE.Bootstrapped, ...(first && d ? { definition: toProtoDefinition(d) } : {}) };
          first = false;
          continue;
        }
        if (sel.length && !sel.every(([k, v]) => ev.resource.metadata.labels[k] === v)) continue;
        yield {
          type: WATCH_TYPE[ev.type], resource: toProtoResource(ev.resource),
          ...(ev.old ? { old: toProtoResource(ev.old) } : {}),
          ...(first && d ? { definition: toProtoDefinition(d) } : {}),
        };
        first = false;
      }
    },
  };
}
