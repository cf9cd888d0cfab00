/**
 * The read-only RPCs about the machine itself, straight from core/procfs and core/disks, in the
 * contract's message shapes. They need nothing from the store, so they live apart from the
 * handlers; console diagnostics (`bunker diag`) read the same libraries.
 */
import { bunker } from "../../../core/api/gen/api.js";
import { discoverDisks } from "../../../core/disks/disk.ts";
import { readCpus } from "../../../core/procfs/cpuinfo.ts";
import { readKmsg } from "../../../core/procfs/kmsg.ts";
import { readLoadAvg, readMemory } from "../../../core/procfs/meminfo.ts";
import { readMounts } from "../../../core/procfs/mounts.ts";
import { isProtocol, readNetstat } from "../../../core/procfs/netstat.ts";
import { readProcesses } from "../../../core/procfs/processes.ts";
import { readSystemStat } from "../../../core/procfs/systemstat.ts";
import { BunkerError } from "../../../core/errors.ts";

const F = bunker.machine.v1.NetstatRequest.Filter;

export const readers = {
  async Memory() {
    const m = readMemory();
    return { total: m.total, free: m.free, available: m.available, buffers: m.buffers, cached: m.cached, shmem: m.shmem, swapTotal: m.swapTotal, swapFree: m.swapFree, raw: m.raw };
  },
  async LoadAvg() { return readLoadAvg(); },
  async CPUInfo() { return { cpus: readCpus() }; },
  async SystemStat() { return readSystemStat(); },
  async Processes() { return { processes: readProcesses() }; },
  async Mounts() { return { mounts: readMounts() }; },
  async Netstat(req: bunker.machine.v1.INetstatRequest) {
    const protocols = req.protocols ?? [];
    const bad = protocols.filter((p) => !isProtocol(p));
    if (bad.length) throw new BunkerError("invalid_argument", `protocols: unknown ${bad.join(", ")} (expected tcp, tcp6, udp, udp6, raw, raw6)`);
    const filter = req.filter === F.FILTER_LISTENING ? "listening" : req.filter === F.FILTER_CONNECTED ? "connected" : "all";
    return { records: readNetstat({ filter, protocols: protocols.filter(isProtocol), pid: req.pid === true }) };
  },
  async Disks() {
    return {
      disks: discoverDisks().map((d) => ({
        name: d.name, devPath: d.devPath, size: d.size, model: d.model ?? "", serial: d.serial ?? "", wwid: d.wwid ?? "",
        transport: d.transport, rotational: d.rotational, readonly: d.readOnly, removable: d.removable,
        systemDisk: false, // no installer yet: Bunker runs from its initramfs, on no disk
        busPath: d.busPath ?? "",
      })),
    };
  },
  async *Dmesg(req: bunker.machine.v1.IDmesgRequest, ctx: { signal: AbortSignal }) {
    for await (const r of readKmsg({ follow: req.follow === true, tail: Math.max(0, req.tail ?? 0), signal: ctx.signal })) {
      yield { seq: r.seq, facility: r.facility, priority: r.priority, monotonicUs: r.monotonicUs, message: r.message };
    }
  },
};
