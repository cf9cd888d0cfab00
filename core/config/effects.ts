/**
 * Which config changes apply live and which need a reboot: the one table. The node's apply-config
 * decides from it (diffConfigs below: `--mode live` refuses a reboot change, `auto` reboots for
 * one), the API's dry-run reports it, and docs/config.md is generated from it. The most
 * specific rule wins; a path no rule names needs a reboot, the safe answer.
 *
 * "live" must be true of the running node: what the apply-config sequence re-does at once
 * (services/init/machine.ts): the MachineConfig resource (networkd's config and the hostname
 * follow it), the config's sysctls, apid's certificates, trust and members (new files, SIGHUP),
 * trustd's secrets (SIGHUP), and whatever reads the config when it is used (the install, client
 * credentials). Anything else takes effect, if at all, at the next boot.
 */
import type { PathSegment } from "./problem.ts";

export type ApplyEffect = "live" | "reboot";

/** Path patterns (`*` matches one key or index) and their effect, with the reason for docs. */
export const APPLY_EFFECTS: readonly { path: string; effect: ApplyEffect; why: string }[] = [
  { path: "version", effect: "reboot", why: "the format of the whole document" },
  { path: "debug", effect: "reboot", why: "no running service follows it; the console's log level comes from the kernel command line (`debug`, `loglevel=`)" },
  { path: "machine", effect: "reboot", why: "default for machine settings" },
  { path: "machine.type", effect: "reboot", why: "changes which services run (trustd runs only on a control plane)" },
  { path: "machine.token", effect: "live", why: "trustd gets new secrets and reloads them (SIGHUP); a worker asks trustd for its certificate again with the new token" },
  { path: "machine.ca", effect: "live", why: "init re-issues the API certificates from it and apid reloads them; open connections keep theirs (rotate-ca relies on it)" },
  { path: "machine.acceptedCAs", effect: "live", why: "apid's trust file is rewritten and apid reloads it (SIGHUP); trustd's secrets follow (rotate-ca relies on it)" },
  { path: "machine.certSANs", effect: "live", why: "the node certificate is re-issued with the new names and apid reloads it (SIGHUP) without dropping the API" },
  { path: "machine.network", effect: "live", why: "networkd reconciles links, addresses, routes and the hostname from the new config at once" },
  { path: "machine.install", effect: "live", why: "nothing running uses it: the next install or upgrade reads the config then" },
  { path: "machine.install.extraKernelArgs", effect: "reboot", why: "for the boot entry; the running kernel keeps its arguments" },
  { path: "machine.install.bootDeadline", effect: "live", why: "read by the next trial boot of an upgraded slot; a trial under way keeps the deadline it started with" },
  { path: "machine.time", effect: "live", why: "networkd takes the new time section from the same config it reconciles" },
  { path: "machine.sysctls", effect: "live", why: "written to /proc/sys at once" },
  { path: "machine.files", effect: "reboot", why: "files are written at boot, not while running" },
  { path: "machine.kernel", effect: "reboot", why: "kernel arguments take effect at the next boot" },
  { path: "machine.logging", effect: "live", why: "init ships to the new destinations at once; an endpoint left unchanged keeps its connection and queue" },
  { path: "cluster", effect: "reboot", why: "default for cluster settings" },
  { path: "cluster.id", effect: "reboot", why: "the cluster's identity: nothing running follows a change" },
  { path: "cluster.secret", effect: "reboot", why: "shared by the cluster's nodes; nothing running follows a change" },
  { path: "cluster.clusterName", effect: "live", why: "read when client credentials are made (their context name)" },
  { path: "cluster.controlPlane", effect: "reboot", why: "default for the control plane settings" },
  { path: "cluster.controlPlane.endpoint", effect: "live", why: "apid's certificate, members and trustd's reserved names are redone from it at once; client credentials made from now on name it" },
  { path: "cluster.controlPlane.nodes", effect: "live", why: "apid's member list and the control planes a worker asks are redone from it at once" },
  { path: "cluster.etcd", effect: "reboot", why: "for etcd, which reads its CA when it starts" },
];

/** "machine.network.interfaces[1].mtu" or segments -> ["machine", "network", "interfaces", 1, "mtu"]. */
export function splitPath(path: string | readonly PathSegment[]): PathSegment[] {
  if (typeof path !== "string") return [...path];
  const out: PathSegment[] = [];
  const re = /([^.[\]]+)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/g;
  for (const m of path.matchAll(re)) {
    if (m[1] !== undefined) out.push(m[1]);
    else if (m[2] !== undefined) out.push(Number(m[2]));
    else out.push(JSON.parse(m[3]!) as string);
  }
  return out;
}

/** How many keys of `pattern` match the start of `keys`, or -1. */
function matches(pattern: string, keys: string[]): number {
  const p = pattern.split(".");
  if (p.length > keys.length) return -1;
  return p.every((w, i) => w === "*" || w === keys[i]) ? p.length : -1;
}

/** Whether a change at `path` applies live or needs a reboot. */
export function applyEffect(path: string | readonly PathSegment[]): ApplyEffect {
  // Array indices do not matter: "machine.network" covers interfaces[3].mtu.
  const keys = splitPath(path).filter((s) => typeof s === "string");
  let best: ApplyEffect = "reboot";
  let bestLen = 0;
  for (const rule of APPLY_EFFECTS) {
    const n = matches(rule.path, keys);
    if (n > bestLen) { best = rule.effect; bestLen = n; }
  }
  return best;
}

export type ChangeKind = "added" | "removed" | "changed";
/** One changed setting: its dotted path (lists whole), how it changed, and whether it applies live. */
export interface ConfigChange { path: string; kind: ChangeKind; live: boolean }

function flatten(v: unknown, prefix: string, out: Map<string, string>): void {
  // A key set to undefined is a key not there (a typed config leaves unset optionals so).
  if (v === undefined) return;
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
 * ("machine.sysctls.net.ipv4.ip_forward"): the rules match by prefix, so the extra keys only
 * make the path longer below its rule.
 */
const isLive = (path: string): boolean => applyEffect(path.split(".")) === "live";

/**
 * What applying `after` over `before` changes, sorted by path, each with its effect from the
 * table: what the node decides live-or-reboot by (apply-config) and what its dry-run shows.
 */
export function diffConfigs(before: object | undefined, after: object): ConfigChange[] {
  const a = new Map<string, string>();
  const b = new Map<string, string>();
  if (before) flatten(before, "", a);
  flatten(after, "", b);
  const changes: ConfigChange[] = [];
  for (const [p, v] of b) {
    if (!a.has(p)) changes.push({ path: p, kind: "added", live: isLive(p) });
    else if (a.get(p) !== v) changes.push({ path: p, kind: "changed", live: isLive(p) });
  }
  for (const p of a.keys()) if (!b.has(p)) changes.push({ path: p, kind: "removed", live: isLive(p) });
  return changes.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
}
