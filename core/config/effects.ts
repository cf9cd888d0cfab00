/**
 * Which config changes apply live and which need a reboot: the API's dry-run reports this for
 * each changed path, and docs/config.md lists it. The most specific rule wins; a path no rule
 * names needs a reboot, the safe answer.
 */
import { formatPath, type PathSegment } from "./problem.ts";

export type ApplyEffect = "live" | "reboot";

/** Path patterns (`*` matches one key or index) and their effect, with the reason for docs. */
export const APPLY_EFFECTS: readonly { path: string; effect: ApplyEffect; why: string }[] = [
  { path: "version", effect: "reboot", why: "the format of the whole document" },
  { path: "debug", effect: "reboot", why: "services read it when they start" },
  { path: "machine", effect: "reboot", why: "default for machine settings" },
  { path: "machine.type", effect: "reboot", why: "changes which services run" },
  { path: "machine.token", effect: "live", why: "trustd checks the current token on each request" },
  { path: "machine.ca", effect: "live", why: "init re-issues the API certificates from it and apid reloads them; open connections keep theirs (rotate-ca relies on it)" },
  { path: "machine.acceptedCAs", effect: "live", why: "the API reloads its trust pool" },
  { path: "machine.certSANs", effect: "live", why: "the node certificate is re-issued and swapped in without dropping the API" },
  { path: "machine.network", effect: "live", why: "networkd reconciles links, addresses and routes" },
  { path: "machine.install", effect: "live", why: "used only by the next install or upgrade" },
  { path: "machine.install.extraKernelArgs", effect: "reboot", why: "written to the boot entry; the running kernel keeps its arguments" },
  { path: "machine.time", effect: "live", why: "the time service restarts with the new servers" },
  { path: "machine.sysctls", effect: "live", why: "written to /proc/sys at once" },
  { path: "machine.files", effect: "reboot", why: "files are written once, early at boot" },
  { path: "machine.kernel", effect: "reboot", why: "kernel arguments take effect at the next boot" },
  { path: "machine.logging", effect: "live", why: "log senders are reconfigured in place" },
  { path: "cluster", effect: "reboot", why: "cluster identity and secrets are read at boot" },
  { path: "cluster.controlPlane.endpoint", effect: "live", why: "clients dial the new endpoint on their next connection" },
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

/**
 * The paths where two configs differ, as deep as both sides go: a list of another length or a
 * value of another type is one change at its own path.
 */
export function changedPaths(before: unknown, after: unknown, at: PathSegment[] = []): PathSegment[][] {
  if (Object.is(before, after)) return [];
  const bothLists = Array.isArray(before) && Array.isArray(after);
  const bothMaps = isPlainMap(before) && isPlainMap(after);
  if (bothLists && before.length === after.length) {
    return before.flatMap((x, i) => changedPaths(x, after[i], [...at, i]));
  }
  if (bothMaps) {
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    return [...keys].flatMap((k) => changedPaths(before[k], after[k], [...at, k]));
  }
  return [at];
}

function isPlainMap(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === "object" && !Array.isArray(x);
}

export interface ApplyPlan {
  /** Every changed path (formatted like problem paths) and how it applies. */
  changes: { path: string; effect: ApplyEffect }[];
  /** "reboot" when any change needs one; "live" otherwise (also when nothing changed). */
  effect: ApplyEffect;
}

/** What applying `after` over `before` does: the API's dry-run answer. */
export function planApply(before: unknown, after: unknown): ApplyPlan {
  const changes = changedPaths(before, after).map((p) => ({ path: formatPath(p), effect: applyEffect(p) }));
  return { changes, effect: changes.some((c) => c.effect === "reboot") ? "reboot" : "live" };
}
