/**
 * A config fetched over the network (`bunker.config=URL` on the kernel command line) needs the
 * network before the config exists: networkd is started ahead of the other services (with no
 * config it runs DHCP on every physical link) and the fetch waits, bounded, for a global address.
 * Without this the fetch would only ever see ENETUNREACH, since services start after the config.
 */
import { ADDRESS_STATUSES } from "../../core/netresources/kinds.ts";
import type { Store } from "../../core/resources/index.ts";
import { globalAddresses } from "./banner.ts";

/**
 * Resolves with the node's global addresses as soon as there is one, or with [] once `timeoutMs`
 * passes (the fetch then tries anyway and reports its own error). Rejects when `signal` aborts.
 */
export function waitForGlobalAddress(store: Store, timeoutMs: number, signal?: AbortSignal): Promise<string[]> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    let stop = () => {};
    const done = (v: string[] | Error) => {
      clearTimeout(timer);
      stop();
      signal?.removeEventListener("abort", onAbort);
      if (v instanceof Error) reject(v);
      else resolve(v);
    };
    const onAbort = () => done(signal?.reason instanceof Error ? signal.reason : new Error("aborted"));
    const timer = setTimeout(() => done([]), timeoutMs);
    signal?.addEventListener("abort", onAbort);
    stop = store.watch(ADDRESS_STATUSES, () => {
      const a = globalAddresses(store);
      if (a.length > 0) done(a.map((x) => `${x.link} ${x.address}`));
    });
  });
}
