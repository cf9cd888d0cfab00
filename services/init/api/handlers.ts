/**
 * The machine API as typed functions over the store, supervisor and sequencer. The gRPC
 * transport (api/server.ts, through the contract adapters in api/contract.ts) maps RPCs to
 * these; their errors are BunkerErrors (core/errors.ts), which core/grpc maps to status codes.
 */
import { buildInfo } from "../../../core/buildinfo/buildinfo.ts";
import {
  DEFINITIONS, resolveDefinition,
  type Resource, type ResourceDefinition, type WatchEvent,
} from "../../../core/resources/index.ts";
import { parseUntrustedConfig, redactedPair } from "../config.ts";
import { diffConfigs, type ConfigChange } from "../../../core/config/effects.ts";
import { writeAtomic } from "../../../core/fileio/atomic.ts";
import { systemClock, type Cancel, type Clock } from "../../../core/time/clock.ts";
import { IMAGE_FILES } from "../../../core/image/layout.ts";
import { NOT_INSTALLED, type Machine } from "../machine.ts";
import { fileURL, ImageError } from "../../../core/install/download.ts";
import { otherSlot } from "../../../core/install/grub.ts";
import { RESETTABLE } from "../../../core/install/reset.ts";
import { unifiedDiff } from "../textdiff.ts";
import {
  EVENTS, HOSTNAME, MACHINE_STATUS,
  type HostnameSpec, type MachineStatusSpec,
} from "../resources.ts";
import { BusyError, type SequenceName } from "../sequencer.ts";
import type { ServiceStatus } from "../service.ts";
import { BunkerError, REASON } from "../../../core/errors.ts";
import type { EtcdNode } from "../etcd.ts";
import type { Segment } from "../ringbuffer.ts";
import { NODE_ROOTS } from "./files.ts";
import { openDisk } from "../../../core/gpt/device.ts";
import { metaLocation } from "../../../core/disklayout/volumes.ts";
import { tableOf } from "../../../core/install/slots.ts";
import { readMeta, updateMeta, type MetaLocation } from "../../../core/meta/store.ts";
import { checkChangeable, tagName } from "../../../core/meta/keys.ts";

/** How long Upgrade and Rollback wait after answering before the reboot starts. */
const ANSWER_GRACE_MS = 500;

/** What a handler learns about its call: when to stop. */
export interface CallContext { signal: AbortSignal }

/** A field the call cannot do without (protobuf leaves an unset string empty or absent). */
function required(v: string | null | undefined, key: string): string {
  if (!v) throw new BunkerError("invalid_argument", `${key}: expected a non-empty string`);
  return v;
}
function count(v: number | null | undefined, key: string, dflt: number): number {
  if (v === undefined || v === null) return dflt;
  if (!Number.isInteger(v) || v < 0) throw new BunkerError("invalid_argument", `${key}: expected a non-negative integer`);
  return v;
}

/** What the calls take: the fields of the generated request types that they read. */
type Opt<T> = T | null | undefined;
export interface ServiceRef { id?: Opt<string> }
export interface LogsRequest { id?: Opt<string>; tail?: Opt<number>; follow?: Opt<boolean> }
export interface KindRequest { type?: Opt<string>; namespace?: Opt<string>; id?: Opt<string> }
export interface EventsRequest { tail?: Opt<number>; follow?: Opt<boolean> }
export interface ApplyRequest { data: string; mode?: ApplyMode; dryRun?: boolean; tryTimeoutSeconds?: number }
export interface ResetRequest { graceful?: boolean; reboot?: boolean; wipeVolumes?: string[] }
export interface UpgradeRequest { image?: Opt<string>; stage?: boolean; force?: boolean }

const hexKey = (key: number) => `0x${key.toString(16)}`;

/** Refuses key 0 and the keys Bunker keeps in step with the disk. */
function changeable(key: number): void {
  if (!Number.isInteger(key) || key < 1) throw new BunkerError("invalid_argument", `META key ${key}: expected a tag in 1..0xffffffff`);
  checkChangeable(key);
}

export interface ServiceInfo extends ServiceStatus { id: string }

/** A piece of a service's output: its text, when it was written (ms since the epoch), its stream. */
export interface LogPiece { text: string; time: number; stream: string }

export type ApplyMode = "auto" | "live" | "reboot" | "staged" | "try";
/** How long a config applied in try mode stays without ConfirmConfiguration (Talos's default too). */
export const DEFAULT_TRY_SECONDS = 60;

export interface ApplyResult {
  mode: Exclude<ApplyMode, "auto">;
  /** Mode try: when it reverts unless confirmed (ms since epoch); 0 otherwise. */
  tryDeadline: number;
  /** Unified diff of the config texts, current -> new. */
  diff: string;
  applied: boolean;
  dryRun: boolean;
  changes: ConfigChange[];
  message: string;
  /** What the config library warned about, with line:column. */
  warnings: string[];
}

/** `clock`: what the try-mode deadline waits by (tests move a ManualClock instead of sleeping). */
export function createHandlers(m: Machine, clock: Clock = systemClock) {
  /** META of the disk this node booted from (container mode: --disk); refused without one. */
  const withMeta = <T>(what: string, write: boolean, f: (loc: MetaLocation) => T): T => {
    if (!m.opts.install) throw new BunkerError("failed_precondition", `meta ${what}: ${NOT_INSTALLED}`);
    const dev = openDisk(m.opts.install.disk, { write });
    try {
      let loc: MetaLocation;
      try { loc = metaLocation(dev, tableOf(dev)); } catch (err) { throw new BunkerError("failed_precondition", `meta ${what}: ${(err as Error).message}`); }
      return f(loc);
    } finally {
      dev.close();
    }
  };
  const def = (type: string): ResourceDefinition => {
    const d = resolveDefinition(m.store, type);
    if (!d) throw new BunkerError("not_found", `resource type "${type}": unknown (see: get rd)`);
    return d;
  };
  const kind = (p: KindRequest) => {
    const d = def(required(p.type, "type"));
    return { namespace: p.namespace || d.namespace, type: d.type };
  };
  /** An etcd action of this node (EtcdRefusal is FAILED_PRECONDITION, an etcd that did not answer UNAVAILABLE). */
  const etcdCall = async <T>(what: string, fn: (e: EtcdNode) => Promise<T>): Promise<T> => {
    if (!m.etcd) throw new BunkerError("failed_precondition", `${what} refused: this node runs no etcd (in container mode: a control plane started with --trustd-listen)`);
    return await fn(m.etcd);
  };
  /** Starts a sequence; answers once it is accepted (a power action would end us before it is done). */
  const startSequence = (name: SequenceName, args: Record<string, unknown> = {}) => {
    const { done } = m.sequencer.start(name, args);
    done.catch(() => { /* its failure is in the sequence status and the event history */ });
    return { accepted: true, sequence: name };
  };

  /**
   * Reboots after the answer has left: through apid the answer crosses a service the reboot
   * stops first, so starting at once would cut it off.
   */
  const rebootSoon = () => setTimeout(() => {
    try { startSequence("reboot"); } catch (err) { m.events.add("upgrade", `reboot after the slot change: ${err instanceof Error ? err.message : String(err)}`); }
  }, ANSWER_GRACE_MS);

  /** The config being tried (mode try), until confirmed or reverted. */
  let trying: { raw: string; deadline: number; cancel: Cancel } | undefined;

  return {
    version: () => ({ ...buildInfo(), mode: m.opts.mode, pid: process.pid }),

    /** Where List and Read may look: the node's roots, or only the state dir in container mode. */
    fileRoots: (): readonly string[] => (m.opts.mode === "metal" ? NODE_ROOTS : [m.opts.stateDir]),

    /** The applied machine config (validated, defaults filled), if any. */
    config: () => m.machineConfig()?.config,

    /** The applied config's text with its secrets (MachineConfiguration: os:admin, authorised before this runs). */
    "config.raw": (): string | undefined => m.machineConfig()?.raw,

    hostname: () => m.store.get<HostnameSpec>(HOSTNAME)?.spec ?? null,

    "machine.status": () => m.store.get<MachineStatusSpec>(MACHINE_STATUS)?.spec ?? null,

    "services.list": (): ServiceInfo[] => m.supervisor.ids().map((id) => ({ id, ...m.supervisor.status(id) })),
    "services.start": (p: ServiceRef) => { m.supervisor.start(required(p.id, "id")); return { ok: true }; },
    "services.stop": async (p: ServiceRef) => { await m.supervisor.stop(required(p.id, "id")); return { ok: true }; },
    "services.restart": async (p: ServiceRef) => { await m.supervisor.restart(required(p.id, "id")); return { ok: true }; },

    /** The last `tail` lines (default 100) of a service's output, then new output if `follow`. */
    /** A service's output as it arrived: text pieces with the time each was written and its stream. */
    async *logs(p: LogsRequest, ctx: CallContext): AsyncGenerator<LogPiece> {
      const ring = m.supervisor.logs(required(p.id, "id"));
      const dec = new TextDecoder();
      const piece = (s: Segment): LogPiece => ({ text: dec.decode(s.data, { stream: true }), time: s.time, stream: s.stream });
      const { segments, next } = ring.segments(ring.tailPosition(count(p.tail, "tail", 100)));
      for (const s of segments) yield piece(s);
      if (p.follow !== true) return;
      for await (const s of ring.follow(next, ctx.signal)) yield piece(s);
    },

    "resources.definitions": () => m.store.list<ResourceDefinition>(DEFINITIONS).map((r) => r.spec),
    "resources.get": (p: KindRequest): Resource => {
      const k = kind(p);
      return m.store.mustGet({ ...k, id: required(p.id, "id") });
    },
    "resources.list": (p: KindRequest): Resource[] => m.store.list(kind(p)),
    async *"resources.watch"(p: KindRequest, ctx: CallContext): AsyncGenerator<WatchEvent> {
      const k = kind(p);
      const id = p.id || undefined;
      yield* m.store.watchIter(k, { id, signal: ctx.signal });
    },
    async *events(p: EventsRequest, ctx: CallContext): AsyncGenerator<WatchEvent> {
      const tail = count(p.tail, "tail", 1000);
      const all = m.store.list(EVENTS);
      for (const r of all.slice(Math.max(0, all.length - tail))) yield { type: "Created", resource: r };
      yield { type: "Bootstrapped" };
      if (p.follow !== true) return;
      yield* m.store.watchIter(EVENTS, { signal: ctx.signal, tailOnly: true });
    },

    /**
     * Applies a machine config. mode: auto (live when every change applies live, else reboot),
     * live (refused if a change needs a reboot), reboot (save, then reboot), staged (save for the
     * next boot only). dryRun validates and lists the changes without touching anything.
     */
    "apply-config": async (p: ApplyRequest): Promise<ApplyResult> => {
      const raw = required(p.data, "data");
      const mode = p.mode ?? "auto";
      // Read before the config is checked (which awaits a Worker): a call that arrived while the
      // node had no config stays a first config, and so one-shot, even if another first config
      // commits while this one is being checked.
      const current = m.machineConfig()?.config;
      // Refusals are typed where they are thrown: ConfigError (invalid), ConfigCheckError (busy, too slow).
      const next = await parseUntrustedConfig(raw, "api", m.opts.mode);
      const changes = diffConfigs(current, next.config);
      // Taken now: once applied, the node holds the new config. A diff is shown to the caller:
      // both sides are the redacted configs (a changed key shows as a change in `changes` only).
      const diff = unifiedDiff(...redactedPair(current, next.config));
      const needsReboot = changes.filter((c) => !c.live).map((c) => c.path);
      // Maintenance mode has nothing running to disturb: a first config always applies live.
      const resolved: Exclude<ApplyMode, "auto"> = mode === "auto" ? (needsReboot.length && current ? "reboot" : "live") : mode;
      if ((resolved === "live" || resolved === "try") && needsReboot.length && current) {
        throw new BunkerError("invalid_argument", `mode ${resolved}: these changes need a reboot: ${needsReboot.join(", ")}`);
      }
      if (resolved === "try") {
        if (!current) throw new BunkerError("failed_precondition", "mode try: the node has no config to go back to; apply one with mode live first");
        if (trying) throw new BunkerError("failed_precondition", `mode try: another config is being tried until ${new Date(trying.deadline).toISOString()}; confirm it or wait for it to revert`);
      }
      const result = (applied: boolean, message: string, tryDeadline = 0): ApplyResult => ({ mode: resolved, applied, dryRun: p.dryRun === true, changes, message, warnings: next.warnings ?? [], tryDeadline, diff });
      if (p.dryRun === true) return result(false, `dry run: ${changes.length} change(s), mode ${resolved}`);
      if (!current) {
        // The first config (maintenance mode, where it may come without a certificate): one-shot.
        // Claimed before the sequence awaits, so a second one racing it is refused here, and apid's
        // maintenance mark is refused from now on (api/authorize.ts).
        if (resolved === "staged") throw new BunkerError("failed_precondition", "mode staged: this node has no config yet (maintenance mode); apply the first config with mode auto, live or reboot");
        if (!m.claimFirstConfig()) {
          throw new BunkerError("failed_precondition", "a first config is already being committed to this node: the maintenance-mode apply is one-shot; use a client certificate of the cluster", { reason: REASON.configTaken });
        }
        try {
          if (resolved === "live") await m.sequencer.run("apply-config", { raw, spec: next });
          else await m.sequencer.run("apply-config", { raw, spec: next, staged: true });
        } catch (err) {
          m.releaseFirstConfig();
          throw err;
        }
        if (resolved === "live") return result(true, "applied live");
        startSequence("reboot");
        return result(true, "saved; rebooting to apply");
      }
      if (resolved === "live") {
        await m.sequencer.run("apply-config", { raw, spec: next });
        return result(true, "applied live");
      }
      if (resolved === "try") {
        const seconds = count(p.tryTimeoutSeconds, "tryTimeoutSeconds", 0) || DEFAULT_TRY_SECONDS;
        const previous = m.machineConfig()!;
        await m.sequencer.run("apply-config", { raw, spec: next, persist: false });
        const deadline = clock.now() + seconds * 1000;
        const cancel = clock.setTimeout(() => {
          trying = undefined;
          m.events.add("config", `the config tried until ${new Date(deadline).toISOString()} was not confirmed: reverting`);
          m.sequencer.run("apply-config", { raw: previous.raw, spec: previous, persist: false })
            .catch((err) => m.events.add("config", `reverting the tried config failed: ${err instanceof Error ? err.message : String(err)}`));
        }, seconds * 1000);
        trying = { raw, deadline, cancel };
        return result(true, `applied for ${seconds} s: confirm it (ConfirmConfiguration) or it reverts`, deadline);
      }
      await m.sequencer.run("apply-config", { raw, spec: next, staged: true });
      if (resolved === "staged") return result(true, "saved; applies at the next boot");
      startSequence("reboot");
      return result(true, "saved; rebooting to apply");
    },
    /** Keeps the config applied in try mode: saved, and the revert cancelled. */
    "confirm-config": () => {
      if (!trying) throw new BunkerError("failed_precondition", "no configuration is being tried (apply one with mode try first)");
      trying.cancel();
      writeAtomic(m.savedConfigPath, trying.raw);
      trying = undefined;
      m.events.add("config", "the tried config was confirmed");
      return { message: "confirmed: the config stays and is saved" };
    },
    reboot: () => startSequence("reboot"),
    shutdown: () => startSequence("shutdown"),
    /** Wipes volumes (empty = STATE and EPHEMERAL), then reboots or powers off; answers once accepted. */
    reset: (p: ResetRequest = {}) => {
      const volumes = (p.wipeVolumes ?? []).map((v) => v.toUpperCase());
      const bad = volumes.filter((v) => !(RESETTABLE as readonly string[]).includes(v));
      if (bad.length) throw new BunkerError("invalid_argument", `wipe_volumes: ${bad.join(", ")}: only ${RESETTABLE.join(", ")} can be wiped (the boot slots and META stay)`);
      return startSequence("reset", { graceful: p.graceful !== false, reboot: p.reboot !== false, volumes });
    },
    /**
     * Fetches the image at p.image, checks it against its signed manifest, writes the inactive
     * slot and arms a one-shot boot of it; then reboots unless p.stage. Every refusal comes
     * before anything stops. An image below the node's security version floor is refused
     * (FAILED_PRECONDITION naming both) unless p.force.
     */
    upgrade: async (p: UpgradeRequest) => {
      const url = required(p.image, "image");
      if (!m.opts.install) throw new BunkerError("failed_precondition", `upgrade: ${NOT_INSTALLED}`);
      try { fileURL(url, IMAGE_FILES.manifest); } catch (err) { throw new BunkerError("invalid_argument", (err as Error).message); }
      try {
        await m.sequencer.run("upgrade", { image: url, force: p.force === true });
      } catch (err) {
        if (err instanceof ImageError) throw new BunkerError(err.unreachable ? "unavailable" : "failed_precondition", `upgrade refused, nothing changed: ${err.message}`, { cause: err });
        throw err;
      }
      if (p.stage === true) return { message: `staged: slot ${otherSlot(m.opts.install.slot)} boots once at the next reboot` };
      rebootSoon();
      return { message: `rebooting into slot ${otherSlot(m.opts.install.slot)}` };
    },
    /** Makes the other slot the one that boots, then reboots into it (below the floor: only with p.force). */
    rollback: async (p: { force?: boolean } = {}) => {
      if (!m.opts.install) throw new BunkerError("failed_precondition", `rollback: ${NOT_INSTALLED}`);
      try {
        await m.sequencer.run("rollback", { force: p.force === true });
      } catch (err) {
        // Whatever stops a rollback (no other slot, its image below the floor) is the node's state.
        throw err instanceof BusyError ? err : new BunkerError("failed_precondition", `rollback refused: ${(err as Error).message}`);
      }
      rebootSoon();
      return { message: `rolling back: rebooting into slot ${otherSlot(m.opts.install.slot)}` };
    },
    /** META's entries (all when key is 0), sorted by key; a key not set is NOT_FOUND. */
    "meta.read": (key: number) => withMeta("read", false, (loc) => {
      const r = readMeta(loc);
      if (!r.ok && !r.blank) throw new BunkerError("failed_precondition", r.error);
      const values = r.ok ? r.values : new Map<number, Uint8Array>();
      const entries = [...values].filter(([k]) => !key || k === key).sort((a, b) => a[0] - b[0])
        .map(([k, value]) => ({ key: k, value, name: tagName(k) ?? "" }));
      if (key && entries.length === 0) throw new BunkerError("not_found", `META key ${hexKey(key)}: not set`);
      return { entries, problems: r.ok ? r.problems : [] };
    }),
    /** Sets one key (both copies rewritten, docs/meta.md); the keys Bunker manages are refused. */
    "meta.write": (key: number, value: Uint8Array) => withMeta("write", true, (loc) => {
      changeable(key);
      try {
        updateMeta(loc, (v) => { v.set(key, value); });
      } catch (err) {
        // META is full: invalid_argument (the value is too big); an unreadable META: failed_precondition.
        throw new BunkerError(err instanceof BunkerError ? err.code : "failed_precondition", `META write of ${hexKey(key)}: ${(err as Error).message}`);
      }
      return { message: `META key ${hexKey(key)} set (${value.length} bytes)` };
    }),
    "meta.delete": (key: number) => withMeta("delete", true, (loc) => {
      changeable(key);
      const r = readMeta(loc);
      if (!r.ok && !r.blank) throw new BunkerError("failed_precondition", r.error);
      if (!r.ok || !r.values.has(key)) throw new BunkerError("not_found", `META key ${hexKey(key)}: not set`);
      updateMeta(loc, (v) => { v.delete(key); });
      return { message: `META key ${hexKey(key)} deleted` };
    }),
    /** A new etcd cluster of this control plane alone; refused (FAILED_PRECONDITION) with the reason. */
    bootstrap: (o: { recover?: boolean; sha256?: string } = {}) => etcdCall("bootstrap", async (e) => ({ message: await e.bootstrap(o) })),
    "etcd.recover-upload": (offset: number, data: Uint8Array) => etcdCall("snapshot upload", async (e) => ({ size: e.recoverUpload(offset, data) })),
    "etcd.forfeit-leadership": () => etcdCall("forfeit-leadership", (e) => e.forfeitLeadership()),
    "etcd.defrag": () => etcdCall("defrag", async (e) => ({ message: await e.defragment() })),
    "etcd.alarms": () => etcdCall("alarm list", async (e) => ({ alarms: await e.alarms() })),
    "etcd.disarm": () => etcdCall("alarm disarm", async (e) => ({ disarmed: await e.disarm() })),
    "etcd.remove-member": (id: string) => etcdCall("remove-member", async (e) => ({ message: await e.removeMember(id) })),
    "etcd.leave": () => etcdCall("leave", async (e) => ({ message: await e.leave() })),
    /** etcd's snapshot as etcd streams it; refusals before the first chunk. */
    "etcd.snapshot": async function* (signal: AbortSignal): AsyncGenerator<Uint8Array> {
      const e = m.etcd;
      if (!e) throw new BunkerError("failed_precondition", "snapshot refused: this node runs no etcd");
      yield* e.snapshot(signal);
    },
  };
}

export type Handlers = ReturnType<typeof createHandlers>;
