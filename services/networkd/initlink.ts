/**
 * networkd under init: its config comes from init's NetworkConfigs resource (watched over init's
 * socket, so an apply-config reaches it at once) and its status goes back into init's store
 * through the internal ResourcePublisher. init tells who is writing by networkd's uid.
 *
 * Publishing is coalesced: while one round of Replace calls is in flight, newer statuses only
 * replace the pending one, and a failed round is retried with the latest status after a delay,
 * so a slow or restarting init never makes networkd queue without bound.
 */
import { ResourcePublisher, ResourceService } from "../../core/api/gen/services.ts";
import { bunker } from "../../core/api/gen/api.js";
import { GrpcClient } from "../../core/grpc/client.ts";
import { Backoff } from "../../core/time/backoff.ts";
import { sleep, systemClock, type Cancel, type Clock } from "../../core/time/clock.ts";
import { NETWORK_CONFIG, type NetworkConfigSpec } from "../../core/netresources/kinds.ts";
import { byKind, statusResources } from "./resources.ts";
import type { NetworkStatus } from "./types.ts";

const EV = bunker.resource.v1.EventType;

export interface InitLinkOptions {
  socket: string;
  log: (line: string) => void;
  /** Delay before a retry, doubling to 10 s. */
  retryMs?: number;
  /** What retries wait by (tests pass a ManualClock). */
  clock?: Clock;
}

const RETRY_MAX_MS = 10_000;

/** The sections init hands over (checked there, typed), or undefined when the node has no config (maintenance). */
export type ConfigSections = NetworkConfigSpec | undefined;

export class InitLink {
  private readonly client: GrpcClient;
  private readonly stop = new AbortController();
  private pending: NetworkStatus | undefined;
  private publishing = false;
  private retryTimer: Cancel | undefined;
  private readonly clock: Clock;
  /** Failed publishing rounds in a row: kept across rounds, so each retry waits twice as long. */
  private readonly publishBackoff: Backoff;

  constructor(private readonly o: InitLinkOptions) {
    this.client = GrpcClient.unix(o.socket);
    this.clock = o.clock ?? systemClock;
    this.publishBackoff = new Backoff(o.retryMs ?? 500, RETRY_MAX_MS);
  }

  /**
   * Watches the config: resolves with the first one (after init's snapshot), then calls
   * `onChange` with every later one. The watch is re-opened after a lost connection, with a
   * doubling delay; a config seen again after a reconnect is passed on only if it changed.
   */
  async watchConfig(onChange: (c: ConfigSections) => void): Promise<ConfigSections> {
    let first: ((c: ConfigSections) => void) | undefined;
    const firstConfig = new Promise<ConfigSections>((resolve) => { first = resolve; });
    let last = "";
    const deliver = (c: ConfigSections) => {
      const key = JSON.stringify(c ?? null);
      if (first) { const f = first; first = undefined; last = key; f(c); return; }
      if (key !== last) { last = key; onChange(c); }
    };
    void (async () => {
      const backoff = new Backoff(this.o.retryMs ?? 500, RETRY_MAX_MS);
      while (!this.stop.signal.aborted) {
        let current: ConfigSections;
        try {
          const stream = this.client.stream(ResourceService.Watch, { ...NETWORK_CONFIG, bootstrap: true }, { signal: this.stop.signal });
          for await (const ev of stream) {
            backoff.reset();
            if (ev.type === EV.EVENT_TYPE_CREATED || ev.type === EV.EVENT_TYPE_UPDATED) current = JSON.parse(ev.resource?.specJson || "{}");
            else if (ev.type === EV.EVENT_TYPE_DESTROYED) current = undefined;
            if (ev.type !== EV.EVENT_TYPE_CREATED || !first) deliver(current);
          }
          if (this.stop.signal.aborted) return;
          this.o.log("networkd: init ended the config watch; watching again");
          await sleep(this.clock, backoff.fail(), this.stop.signal);
        } catch (err) {
          if (this.stop.signal.aborted) return;
          const delay = backoff.fail();
          this.o.log(`networkd: watching the config at ${this.o.socket}: ${err instanceof Error ? err.message : String(err)}; retrying in ${delay} ms`);
          await sleep(this.clock, delay, this.stop.signal);
        }
      }
    })();
    return firstConfig;
  }

  /** Publishes a status (the latest one wins if a round is already in flight). */
  publish(status: NetworkStatus): void {
    this.pending = status;
    if (!this.publishing && !this.retryTimer) void this.drain();
  }

  private async drain(): Promise<void> {
    this.publishing = true;
    try {
      while (this.pending && !this.stop.signal.aborted) {
        const status = this.pending;
        this.pending = undefined;
        try {
          for (const { kind, items } of byKind(statusResources(status)).values()) {
            await this.client.unary(ResourcePublisher.Replace, {
              ...kind,
              resources: items.map((r) => ({ id: r.id, specJson: JSON.stringify(r.spec) })),
            }, { timeoutMs: 10_000, signal: this.stop.signal });
          }
          this.publishBackoff.reset();
        } catch (err) {
          if (this.stop.signal.aborted) return;
          const delay = this.publishBackoff.fail();
          this.o.log(`networkd: publishing the status to init: ${err instanceof Error ? err.message : String(err)}; retrying in ${delay} ms`);
          this.pending ??= status;
          this.retryTimer = this.clock.setTimeout(() => { this.retryTimer = undefined; void this.drain(); }, delay);
          return;
        }
      }
    } finally {
      this.publishing = false;
    }
  }

  close(): void {
    this.stop.abort();
    this.retryTimer?.();
    this.client.close();
  }
}
