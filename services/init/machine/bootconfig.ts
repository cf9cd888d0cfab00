/**
 * The config a boot starts from: the file given, the URL on the kernel command line (fetched
 * once networkd has a global address, or after a minute without), or the one saved in STATE.
 * A broken one is no reason to stop: the boot goes on in maintenance mode and says why.
 */
import { existsSync, readFileSync } from "node:fs";
import { scrubText } from "../../../core/config/redact.ts";
import type { Store } from "../../../core/resources/index.ts";
import { cmdlineConfigURL, loadBootConfig, type CheckedConfig } from "../config.ts";
import type { EventHistory } from "../events.ts";
import { log } from "../log.ts";
import { waitForGlobalAddress } from "../network-first.ts";
import type { Supervisor } from "../supervisor.ts";
import type { MachineOptions } from "./options.ts";

/** How long a cmdline config fetch waits for networkd's first global address (DHCP) before trying anyway. */
const NETWORK_WAIT_MS = 60_000;

export interface BootConfigDeps {
  opts: Pick<MachineOptions, "mode" | "configFile">;
  store: Store;
  events: EventHistory;
  supervisor: Supervisor;
  savedConfigPath: string;
}

/** The boot's config, or none (maintenance mode) with the reason when its source failed. */
export async function loadConfigAtBoot(d: BootConfigDeps, signal: AbortSignal): Promise<{ spec?: CheckedConfig; error?: string }> {
  const { opts } = d;
  const cmdline = opts.mode === "metal" && existsSync("/proc/cmdline") ? readFileSync("/proc/cmdline", "utf8") : undefined;
  if (cmdline !== undefined && opts.configFile === undefined && cmdlineConfigURL(cmdline) !== undefined && d.supervisor.has("networkd")) {
    d.supervisor.start("networkd");
    const addrs = await waitForGlobalAddress(d.store, NETWORK_WAIT_MS, signal);
    log.info(addrs.length ? `network up for the config fetch: ${addrs.join(", ")}` : `no global address after ${NETWORK_WAIT_MS} ms; fetching the config anyway`);
  }
  try {
    const spec = await loadBootConfig({ file: opts.configFile, cmdline, savedPath: d.savedConfigPath, mode: opts.mode }, {
      signal, onRetry: (i, e, delay) => log.warn(`fetching the config: attempt ${i} failed (${e}), retrying in ${delay} ms`),
    });
    if (!spec) log.warn("no machine config: maintenance mode, waiting for apply-config");
    return spec ? { spec } : {};
  } catch (err) {
    if (signal.aborted) throw err;
    // A broken config must not leave the node without its API and services: boot on in
    // maintenance mode, where a good config can be applied, and say why.
    // It lands in an event and MachineStage, which readers see: a config that does not
    // parse cannot be redacted by its schema, so what looks like a secret goes.
    const error = scrubText(err instanceof Error ? err.message : String(err));
    log.error(`${error}; continuing in maintenance mode`);
    d.events.add("config", error);
    return { error };
  }
}
