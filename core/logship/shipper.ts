/**
 * Log shipping (machine.logging.destinations): every record goes, encoded once, into each
 * destination's bounded queue (destination.ts). configure() takes the config's list as it is now
 * and applies it live: a destination whose endpoint is unchanged keeps its connection, queue and
 * counters; one no longer listed is closed; a new one starts.
 */
import { Destination, parseEndpoint, type DestinationOptions, type DestinationStatus } from "./destination.ts";
import { encodeRecord, type LogRecord } from "./record.ts";

export interface DestinationConfig { endpoint: string; format?: string }

export class LogShipper {
  private readonly dests = new Map<string, Destination>();

  constructor(private readonly hostname: () => string, private readonly opts: DestinationOptions = {}) {}

  /**
   * Makes the destinations those of `list`. Throws EndpointError, changing nothing, when an
   * endpoint is not udp://HOST:PORT or tcp://HOST:PORT or a format is not json_lines (the
   * config's schema refuses both first; this guards other callers).
   */
  configure(list: readonly DestinationConfig[]): void {
    list.forEach((d, i) => {
      parseEndpoint(d.endpoint);
      if (d.format !== undefined && d.format !== "json_lines") throw new RangeError(`log destination ${i} (${d.endpoint}): format "${d.format}": only json_lines is known`);
    });
    const want = new Set(list.map((d) => d.endpoint));
    for (const [endpoint, d] of this.dests) {
      if (want.has(endpoint)) continue;
      this.dests.delete(endpoint);
      void d.close();
    }
    for (const endpoint of want) if (!this.dests.has(endpoint)) this.dests.set(endpoint, new Destination(endpoint, this.opts));
  }

  /** Whether any destination is configured (callers skip the work of making records when not). */
  get active(): boolean { return this.dests.size > 0; }

  /** Queues a record for every destination. Never waits. */
  send(r: LogRecord): void {
    if (this.dests.size === 0) return;
    const line = encodeRecord(r, this.hostname());
    for (const d of this.dests.values()) d.enqueue(line);
  }

  status(): DestinationStatus[] {
    return [...this.dests.values()].map((d) => d.status());
  }

  async close(): Promise<void> {
    const all = [...this.dests.values()];
    this.dests.clear();
    await Promise.all(all.map((d) => d.close()));
  }
}
