/**
 * A stand-in for init behind apid: every RPC of the API on a unix socket, with fixed, known
 * answers (so a test can check what bunkerctl prints) and a record of the calls that reached it
 * with the roles apid forwarded (so a test can check a refused call never got here). Its
 * MachineStatus can be driven (not ready, ready, a new boot) to test waits.
 */
import { allMethods, MachineService as M, ResourceService as R } from "../../core/api/gen/services.ts";
import type { Method } from "../../core/grpc/method.ts";
import { GrpcServer, type CallContext } from "../../core/grpc/server.ts";
import { GrpcError, Status } from "../../core/grpc/status.ts";
import { sleep } from "./fixture-server.ts";

export interface StubCall {
  method: string;
  roles: string;
  request: unknown;
}

export interface MachineState {
  stage: string;
  ready: boolean;
  unmetConditions: { name: string; reason: string }[];
  /** ms: the resource's creation, a new value after each boot. */
  created: number;
}

const MACHINE_TYPE = "MachineStatuses.runtime.bunker.dev";
const RD_TYPE = "ResourceDefinitions.meta.bunker.dev";
const definitions = {
  machine: { type: MACHINE_TYPE, displayType: "MachineStatus", aliases: ["machinestatus", "machinestatuses", "ms"], defaultNamespace: "runtime", printColumns: [{ name: "STAGE", jsonPath: "{.stage}" }, { name: "READY", jsonPath: "{.ready}" }] },
  rd: { type: RD_TYPE, displayType: "ResourceDefinition", aliases: ["rd", "resourcedefinitions"], defaultNamespace: "meta", printColumns: [{ name: "ALIASES", jsonPath: "{.aliases}" }] },
};

export class StubNode {
  // As init's socket: apid carries every caller over one connection to it.
  readonly server = new GrpcServer({ maxConcurrentStreams: 4096 });
  readonly calls: StubCall[] = [];
  machine: MachineState = { stage: "running", ready: true, unmetConditions: [], created: 1_700_000_000_000 };
  /** After Reboot: how long the node is "away" before it reports ready again with a new boot. */
  rebootDelayMs = 300;

  constructor(readonly hostname: string) {
    for (const m of allMethods.values()) {
      if (m.responseStream) this.server.handle(m as Method<unknown, unknown, true>, async function* () { /* nothing */ });
      else this.server.handle(m as Method<unknown, unknown, false>, (req, ctx) => (this.record(ctx, req), {}));
    }
    this.handlers();
  }

  /** Calls of one method that reached this node (by name, e.g. "Reboot"). */
  count(method: string): number {
    return this.calls.filter((c) => c.method === method).length;
  }

  private record(ctx: CallContext, request: unknown): void {
    const r = ctx.metadata["x-bunker-roles"];
    this.calls.push({ method: ctx.method.name, roles: typeof r === "string" ? r : "", request });
  }

  private machineResource() {
    const { created, ...spec } = this.machine;
    return { metadata: { namespace: "runtime", type: MACHINE_TYPE, id: "machine", version: 3, phase: "running", created, updated: created, owner: "MachineStatusController" }, specJson: JSON.stringify(spec) };
  }

  private handlers(): void {
    const s = this.server;
    const services = [
      { id: "apid", state: "Running", pid: 101, restarts: 0, health: { healthy: true }, events: [{ time: 1_700_000_001_000, state: "Running", message: "process started" }] },
      { id: "networkd", state: "Running", pid: 102, restarts: 1, health: { unknown: true }, events: [] },
    ];
    s.handle(M.Version, (req, ctx) => (this.record(ctx, req), { version: "0.1.0", commit: "abc123", bunVersion: "1.4.5", arch: "x64", kernel: "6.1.0", hostname: this.hostname, maintenance: false }));
    s.handle(M.ServiceList, (req, ctx) => (this.record(ctx, req), { services }));
    for (const [m, word] of [[M.ServiceStart, "started"], [M.ServiceStop, "stopped"], [M.ServiceRestart, "restarted"]] as const) {
      s.handle(m, (req, ctx) => {
        this.record(ctx, req);
        if (!services.some((x) => x.id === req.id)) throw new GrpcError(Status.NOT_FOUND, `service "${req.id}" is not known`);
        return { id: req.id ?? "", message: `service ${word}` };
      });
    }
    const hostname = this.hostname;
    const record = (ctx: CallContext, req: unknown) => this.record(ctx, req);
    s.handle(M.Logs, async function* (req, ctx) {
      record(ctx, req);
      if (req.id !== "apid") throw new GrpcError(Status.NOT_FOUND, `no log for service "${req.id}"`);
      const lines = Array.from({ length: 5 }, (_, i) => `${hostname} line ${i + 1}`);
      for (const message of req.tail === -1 ? lines : lines.slice(lines.length - Math.min(lines.length, req.tail ?? 0))) yield { time: 1_700_000_002_000, stream: "stdout", message };
      for (let i = 1; req.follow && i <= 5 && !ctx.signal.aborted; i++) {
        await sleep(50, ctx.signal);
        if (!ctx.signal.aborted) yield { time: Date.now(), stream: "stdout", message: `${hostname} follow ${i}` };
      }
    });
    s.handle(M.Dmesg, async function* (req, ctx) {
      record(ctx, req);
      yield { seq: 1, facility: 0, priority: 6, monotonicUs: 1_500_000, message: "Linux version 6.1.0" };
      yield { seq: 2, facility: 0, priority: 4, monotonicUs: 2_250_000, message: "virtio_net: link up" };
    });
    s.handle(M.Events, async function* (req, ctx) {
      record(ctx, req);
      const all = ["0000000001", "0000000002", "0000000003"].map((id, i) => ({ id, time: 1_700_000_000_000 + i * 1000, type: "phase", source: "sequencer", message: `phase ${i + 1}`, fields: {} }));
      const start = req.sinceId ? all.findIndex((e) => e.id === req.sinceId) + 1 : 0;
      yield* all.slice(start);
    });
    s.handle(M.Reboot, (req, ctx) => {
      this.record(ctx, req);
      // Answer first, then "go away" and come back as a new boot.
      setTimeout(() => {
        this.machine = { stage: "booting", ready: false, unmetConditions: [{ name: "network", reason: "no address yet" }], created: Date.now() };
        setTimeout(() => { this.machine = { ...this.machine, stage: "running", ready: true, unmetConditions: [] }; }, this.rebootDelayMs);
      }, 20);
      return { actorId: "" };
    });
    s.handle(M.Shutdown, (req, ctx) => (this.record(ctx, req), { actorId: "" }));
    s.handle(M.Reset, (req, ctx) => (this.record(ctx, req), { actorId: "" }));
    s.handle(M.ApplyConfiguration, (req, ctx) => {
      this.record(ctx, req);
      const text = Buffer.from(req.data ?? []).toString("utf8");
      if (!text.includes("version: v1alpha1")) throw new GrpcError(Status.INVALID_ARGUMENT, "machine config line 1:1: version: expected v1alpha1");
      if (req.mode === 1 && text.includes("install")) throw new GrpcError(Status.FAILED_PRECONDITION, "machine.install.disk needs a reboot; use --mode reboot or auto");
      return {
        mode: req.mode === 0 ? 1 : req.mode, message: req.dryRun ? "1 change, applies live" : "applied",
        diff: "--- old\n+++ new\n-  hostname: a\n+  hostname: b\n", changes: [{ path: "machine.network.hostname", effect: 0, kind: "changed" }],
        warnings: [], tryDeadline: req.mode === 4 ? 1_700_000_060_000 : 0,
      };
    });
    s.handle(M.ConfirmConfiguration, (req, ctx) => (this.record(ctx, req), { message: "configuration confirmed" }));
    s.handle(M.Memory, (req, ctx) => (this.record(ctx, req), { total: 8 * 2 ** 30, free: 2 * 2 ** 30, available: 6 * 2 ** 30, buffers: 2 ** 20, cached: 2 ** 30, shmem: 0, swapTotal: 0, swapFree: 0, raw: { MemTotal: 8 * 2 ** 30 } }));
    s.handle(M.Processes, (req, ctx) => (this.record(ctx, req), { processes: [
      { pid: 1, ppid: 0, state: "S", threads: 4, cpuSeconds: 1.5, virtualMemory: 200 * 2 ** 20, residentMemory: 50 * 2 ** 20, command: "init", args: "/sbin/init" },
      { pid: 101, ppid: 1, state: "S", threads: 8, cpuSeconds: 9.25, virtualMemory: 300 * 2 ** 20, residentMemory: 70 * 2 ** 20, command: "apid", args: "apid --listen 0.0.0.0:50000" },
    ] }));
    s.handle(M.Mounts, (req, ctx) => (this.record(ctx, req), { mounts: [
      { source: "/dev/vda4", target: "/var", fstype: "xfs", options: "rw", size: 10 * 2 ** 30, available: 5 * 2 ** 30 },
      { source: "proc", target: "/proc", fstype: "proc", options: "rw", size: 0, available: 0 },
    ] }));
    s.handle(M.Netstat, (req, ctx) => (this.record(ctx, req), { records: [
      { protocol: "tcp", localIp: "0.0.0.0", localPort: 50000, remoteIp: "0.0.0.0", remotePort: 0, state: "LISTEN", pid: req.pid ? 101 : 0, process: req.pid ? "apid" : "" },
      ...(req.filter === 1 ? [] : [{ protocol: "tcp6", localIp: "::1", localPort: 50000, remoteIp: "::1", remotePort: 40000, state: "ESTABLISHED" }]),
    ] }));
    s.handle(M.Disks, (req, ctx) => (this.record(ctx, req), { disks: [{ name: "vda", devPath: "/dev/vda", size: 20 * 2 ** 30, model: "QEMU HARDDISK", serial: "S123", transport: "virtio", rotational: false, systemDisk: true }] }));
    s.handle(M.List, async function* (req, ctx) {
      record(ctx, req);
      if (!req.root?.startsWith("/var")) throw new GrpcError(Status.PERMISSION_DENIED, `${req.root} is outside the allowed roots (/var, /proc, /sys, /etc)`);
      yield { name: "/var/log", relativeName: "log", size: 4096, mode: 0o40755, modified: 1_700_000_000_000, isDir: true };
      yield { name: "/var/log/boot.log", relativeName: "log/boot.log", size: 1234, mode: 0o100644, modified: 1_700_000_000_000 };
    });
    s.handle(M.Read, async function* (req, ctx) {
      record(ctx, req);
      if (req.path !== "/etc/hostname") throw new GrpcError(Status.NOT_FOUND, `${req.path}: no such file`);
      yield { data: Buffer.from(`${hostname}\n`) };
    });
    s.handle(R.Get, (req, ctx) => {
      this.record(ctx, req);
      if (!definitions.machine.aliases.includes((req.type ?? "").toLowerCase()) && req.type !== MACHINE_TYPE) throw new GrpcError(Status.NOT_FOUND, `resource type "${req.type}" is not registered`);
      if (req.id !== "machine") throw new GrpcError(Status.NOT_FOUND, `${MACHINE_TYPE} "${req.id}" not found`);
      return { resource: this.machineResource(), definition: definitions.machine };
    });
    s.handle(R.List, (req, ctx) => {
      this.record(ctx, req);
      const t = (req.type ?? "").toLowerCase();
      if (definitions.rd.aliases.includes(t)) {
        return { resources: Object.values(definitions).map((d) => ({ metadata: { namespace: "meta", type: RD_TYPE, id: d.type, version: 1, phase: "running" }, specJson: JSON.stringify(d) })), definition: definitions.rd };
      }
      if (definitions.machine.aliases.includes(t) || req.type === MACHINE_TYPE) return { resources: [this.machineResource()], definition: definitions.machine };
      throw new GrpcError(Status.NOT_FOUND, `resource type "${req.type}" is not registered`);
    });
    const machine = () => this.machineResource();
    s.handle(R.Watch, async function* (req, ctx) {
      record(ctx, req);
      yield { type: 1, resource: machine(), definition: definitions.machine };
      yield { type: 4 };
      await sleep(50, ctx.signal);
      if (!ctx.signal.aborted) yield { type: 2, resource: machine() };
    });
  }
}
