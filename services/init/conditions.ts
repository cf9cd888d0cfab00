/** The conditions a service can wait for: a file, a resource, network online, time synced. */
import { existsSync } from "node:fs";
import type { Ref, Store } from "../../core/resources/index.ts";
import { NETWORK_STATUS, TIME_STATUS } from "../../core/netresources/kinds.ts";
import { systemClock, type Clock } from "../../core/time/clock.ts";
import type { Condition } from "./service.ts";

/** Resolves `ms` from now on `clock`; rejects with the signal's reason when it aborts first. */
function sleep(ms: number, signal: AbortSignal, clock: Clock = systemClock): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const cancel = clock.setTimeout(() => { signal.removeEventListener("abort", onAbort); resolve(); }, ms);
    const onAbort = () => { cancel(); reject(signal.reason); };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
export { sleep };

/** Met once `path` exists (polled: inotify is not worth it for boot-time waits). */
export function fileExists(path: string, pollMs = 250): Condition {
  return {
    describe: `file ${path} exists`,
    async wait(signal) {
      while (!existsSync(path)) await sleep(pollMs, signal);
    },
  };
}

/** Met once the resource exists and (if given) `ok` holds for its spec. */
export function resourcePresent<Spec>(store: Store, ref: Ref, ok?: (spec: Spec) => boolean, what?: string): Condition {
  return {
    describe: what ?? `resource ${ref.type} ${ref.id} present`,
    wait(signal) {
      return new Promise((resolve, reject) => {
        if (signal.aborted) return reject(signal.reason);
        let stop: () => void = () => {};
        const onAbort = () => { stop(); reject(signal.reason); };
        stop = store.watch(ref, (ev) => {
          if ((ev.type === "Created" || ev.type === "Updated") && (!ok || ok(ev.resource.spec as Spec))) {
            stop();
            signal.removeEventListener("abort", onAbort);
            resolve();
          }
        }, { id: ref.id });
        signal.addEventListener("abort", onAbort, { once: true });
      });
    },
  };
}

/** NETWORK_STATUS: init's network-status controller; TIME_STATUS: published by networkd. */
export { NETWORK_STATUS, TIME_STATUS };

export const networkOnline = (store: Store) =>
  resourcePresent<{ online?: boolean }>(store, NETWORK_STATUS, (s) => s.online === true, "network online");
/**
 * Met when networkd reports the clock synchronised, or not managed (time disabled). With
 * `timeoutMs`, also met when that time passes: boot goes on without a good clock, and
 * `onTimeout` is told so it can warn. The timeout runs on `clock` (tests move a ManualClock).
 */
export function timeSynced(store: Store, timeoutMs?: number, onTimeout?: () => void, clock: Clock = systemClock): Condition {
  const synced = resourcePresent<{ synced?: boolean; disabled?: boolean }>(store, TIME_STATUS, (s) => s.synced === true || s.disabled === true);
  return {
    describe: "time synced",
    async wait(signal) {
      if (timeoutMs === undefined) return synced.wait(signal);
      const ac = new AbortController();
      const both = AbortSignal.any([signal, ac.signal]);
      try {
        await Promise.race([
          synced.wait(both),
          sleep(timeoutMs, both, clock).then(() => onTimeout?.()),
        ]);
      } finally {
        ac.abort();
      }
    },
  };
}
