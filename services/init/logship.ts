/**
 * init's side of log shipping (machine.logging.destinations): the lines each service writes
 * (the supervisor hands every chunk it puts in the service's ring here too) and, on a node, the
 * kernel's log (/dev/kmsg, which also carries init's own lines) go to core/logship as records.
 *
 * Nothing here may hold up a service or init: a chunk is split and queued synchronously, and the
 * queues are bounded (core/logship/destination.ts). Each destination's counters are published
 * as a LogDestinationStatus resource, once a second when they changed; init logs when a
 * destination starts and stops dropping records, at most once per DROP_LOG_MS each way.
 */
import { readFileSync } from "node:fs";
import { readKmsg } from "../../core/procfs/kmsg.ts";
import { LogShipper, type DestinationConfig } from "../../core/logship/shipper.ts";
import type { DestinationStatus, DestinationOptions } from "../../core/logship/destination.ts";
import { levelName, LineSplitter } from "../../core/logship/record.ts";
import type { Store } from "../../core/resources/index.ts";
import { LOG_DESTINATIONS } from "./resources.ts";

export type LogDestinationSpec = DestinationStatus & { dropping: boolean };

/** The shortest time between two "started dropping" lines of one destination. */
const DROP_LOG_MS = 30_000;

export interface LogShippingOptions {
  store: Store;
  hostname: () => string;
  /** The kernel log to ship (/dev/kmsg on a node); none in container mode: the host's kernel is not the node's. */
  kmsgPath?: string;
  log: { info(msg: string): void; warn(msg: string): void };
  destination?: DestinationOptions;
  /** How often counters are published (default 1000 ms). */
  publishMs?: number;
}

/** machine.logging.destinations of a parsed config ([] when absent). */
export function configuredDestinations(config: Record<string, unknown> | undefined): DestinationConfig[] {
  const logging = (config?.machine as { logging?: { destinations?: DestinationConfig[] } } | undefined)?.logging;
  return logging?.destinations ?? [];
}

export class LogShipping {
  private readonly shipper: LogShipper;
  private readonly splitters = new Map<string, LineSplitter>();
  private kernel: AbortController | undefined;
  /** The last kernel record shipped: a follower started again skips what was already sent. */
  private kernelSeq = -1;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly drops = new Map<string, { seen: number; dropping: boolean; announced: boolean; quietUntil: number; since: number }>();

  constructor(private readonly o: LogShippingOptions) {
    this.shipper = new LogShipper(o.hostname, o.destination);
  }

  /** Applies the config's destinations now (live); throws EndpointError naming a bad one, changing nothing. */
  configure(config: Record<string, unknown> | undefined): void {
    this.shipper.configure(configuredDestinations(config));
    if (this.shipper.active) {
      if (!this.timer) {
        this.timer = setInterval(() => this.publish(), this.o.publishMs ?? 1000);
        this.timer.unref?.();
      }
      if (this.o.kmsgPath && !this.kernel) this.followKernel(this.o.kmsgPath);
    } else {
      this.kernel?.abort();
      this.kernel = undefined;
      this.splitters.clear();
    }
    this.publish();
  }

  /** A chunk of a service's stdout or stderr, as the supervisor read it. */
  serviceOutput(id: string, chunk: Uint8Array, stream: string, time = Date.now()): void {
    if (!this.shipper.active) return;
    const key = `${id}\0${stream}`;
    let s = this.splitters.get(key);
    if (!s) this.splitters.set(key, (s = new LineSplitter()));
    for (const msg of s.push(chunk)) this.shipper.send({ msg, time, service: id, stream });
  }

  private followKernel(path: string): void {
    const ac = new AbortController();
    this.kernel = ac;
    // kmsg stamps records with the time since boot; /proc/uptime says how long ago that was
    // (it counts suspended time too, which a server does not have). Read once: per record it is
    // an addition. Without /proc a record takes the time it was read.
    let bootMs: number | undefined;
    try { bootMs = Date.now() - Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]) * 1000; } catch { bootMs = undefined; }
    void (async () => {
      try {
        for await (const r of readKmsg({ follow: true, signal: ac.signal, path })) {
          if (r.seq <= this.kernelSeq) continue;
          this.kernelSeq = r.seq;
          this.shipper.send({ msg: r.message, time: bootMs === undefined || Number.isNaN(bootMs) ? Date.now() : bootMs + r.monotonicUs / 1000, service: "kernel", level: levelName(r.priority) });
        }
      } catch (err) {
        this.o.log.warn(`log shipping: the kernel log is not shipped: ${err instanceof Error ? err.message : String(err)}`);
      }
    })();
  }

  /** Writes each destination's LogDestinationStatus when it changed, drops the removed ones, logs drop transitions. */
  publish(now = Date.now()): void {
    const list = this.shipper.status();
    const ids = new Set(list.map((s) => s.endpoint));
    for (const r of this.o.store.list(LOG_DESTINATIONS)) {
      if (!ids.has(r.metadata.id)) this.o.store.destroy({ ...LOG_DESTINATIONS, id: r.metadata.id }, { owner: "init" });
    }
    for (const id of [...this.drops.keys()]) if (!ids.has(id)) this.drops.delete(id);
    for (const s of list) {
      const d = this.drops.get(s.endpoint) ?? { seen: 0, dropping: false, announced: false, quietUntil: 0, since: 0 };
      this.drops.set(s.endpoint, d);
      if (s.dropped > d.seen && !d.dropping) {
        d.dropping = true;
        if (now >= d.quietUntil) {
          d.announced = true;
          d.quietUntil = now + DROP_LOG_MS;
          d.since = d.seen;
          this.o.log.warn(`log destination ${s.endpoint}: dropping records (its queue is full${s.lastError ? `; last error: ${s.lastError}` : ""})`);
        }
      } else if (s.dropped === d.seen && d.dropping) {
        d.dropping = false;
        // Said only after a "dropping" line was, so both together stay within DROP_LOG_MS.
        if (d.announced) this.o.log.info(`log destination ${s.endpoint}: no longer dropping (${s.dropped - d.since} dropped since it started, ${s.dropped} in all)`);
        d.announced = false;
      }
      d.seen = s.dropped;
      this.o.store.modify<LogDestinationSpec>({ ...LOG_DESTINATIONS, id: s.endpoint }, () => ({ ...s, dropping: d.dropping }), { owner: "init" });
    }
    if (list.length === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    this.kernel?.abort();
    await this.shipper.close();
  }
}
