/**
 * What an apply-config would change: the config's leaves compared by dotted path, and whether
 * each change can be applied to the running node (live) or needs a reboot. The decision is
 * core/config/effects.ts's table, the same one docs/config.md shows: init must not have a second.
 */
import { applyEffect } from "../../core/config/effects.ts";

export type ChangeKind = "added" | "removed" | "changed";
export interface ConfigChange { path: string; kind: ChangeKind; live: boolean }

function flatten(v: unknown, prefix: string, out: Map<string, string>): void {
  if (v !== null && typeof v === "object" && !Array.isArray(v)) {
    const entries = Object.entries(v as Record<string, unknown>);
    if (entries.length === 0 && prefix) out.set(prefix, "{}");
    for (const [k, x] of entries) flatten(x, prefix ? `${prefix}.${k}` : k, out);
    return;
  }
  // Lists compare whole: an element's position is not a stable identity.
  out.set(prefix, JSON.stringify(v));
}

/**
 * Whether a change at the dotted `path` applies live. A sysctl's name has dots of its own
 * ("machine.sysctls.net.ipv4.ip_forward"): the table's rules match by prefix, so the extra keys
 * only make the path longer below its rule.
 */
export function isLive(path: string): boolean {
  return applyEffect(path.split(".")) === "live";
}

export function diffConfigs(oldCfg: Record<string, unknown> | undefined, newCfg: Record<string, unknown>): ConfigChange[] {
  const a = new Map<string, string>();
  const b = new Map<string, string>();
  if (oldCfg) flatten(oldCfg, "", a);
  flatten(newCfg, "", b);
  const changes: ConfigChange[] = [];
  for (const [p, v] of b) {
    if (!a.has(p)) changes.push({ path: p, kind: "added", live: isLive(p) });
    else if (a.get(p) !== v) changes.push({ path: p, kind: "changed", live: isLive(p) });
  }
  for (const p of a.keys()) if (!b.has(p)) changes.push({ path: p, kind: "removed", live: isLive(p) });
  return changes.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
}
