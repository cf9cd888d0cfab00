/**
 * Container mode runs init on someone's host, under the state dir it was given. The services that
 * run as their own uid (apid 50, trustd 51, networkd 52 when init is root) must pass through every
 * parent of that folder to reach init's socket and their own folders, and through those of the
 * program they run. A parent closed to others (a 0700 home, `mktemp -d`) makes such a service exit
 * at every start, forever; init checks before it boots and refuses, naming the folder and the fix.
 *
 * The check reads the mode bits as the kernel applies them (owner class, else group class, else
 * others; exec-helper clears supplementary groups, so the service's gid is its only group). ACLs
 * and security modules are not read: they can only be stricter or looser in ways the bits do not
 * show, so a setup that relies on them is left to fail as before.
 */
import { realpathSync, statSync, type Stats } from "node:fs";
import { dirname, resolve } from "node:path";

/** A service that runs as its own uid, and the paths it must reach. */
export interface Reacher {
  id: string;
  uid: number;
  gid: number;
  /** Folders the service must reach; their parents must let it through (init sets their own modes). */
  folders: { what: string; path: string }[];
  /** The program it runs: its parents must let it through and it must be executable to it. */
  program?: string;
}

/** One place that stops one or more services. */
export interface Blocked {
  /** The folder (or program) that refuses. */
  at: string;
  mode: number;
  owner: number;
  group: number;
  /** "search" (a folder on the way) or "execute" (the program). */
  need: "search" | "execute";
  /** What the services were trying to reach, e.g. "the state dir /srv/x". */
  what: string;
  /** Whether that is a folder of theirs or the program they run (the advice differs). */
  target: "folder" | "program";
  services: { id: string; uid: number; gid: number }[];
}

const X = 1;

/** Whether uid/gid may do `bits` (1 execute/search, 4 read) on a file of this owner and mode. */
export function permits(st: Pick<Stats, "uid" | "gid" | "mode">, uid: number, gid: number, bits: number): boolean {
  if (uid === 0) return true;
  const cls = st.uid === uid ? st.mode >> 6 : st.gid === gid ? st.mode >> 3 : st.mode;
  return (cls & bits) === bits;
}

/** The strict ancestors of an absolute path, from "/" down, as written and as resolved (symlinks). */
function ancestors(path: string): string[] {
  const out = new Set<string>();
  const walk = (p: string) => {
    const chain: string[] = [];
    for (let d = dirname(p); ; d = dirname(d)) {
      chain.unshift(d);
      if (d === dirname(d)) break;
    }
    for (const d of chain) out.add(d);
  };
  const abs = resolve(path);
  walk(abs);
  try { walk(realpathSync(abs)); } catch { /* not there yet: the written path is all there is */ }
  return [...out];
}

/** Where a service is stopped on its way to what it needs; [] when every one gets through. */
export function accessProblems(reachers: readonly Reacher[], stat: (p: string) => Pick<Stats, "uid" | "gid" | "mode"> | undefined = statOrUndefined): Blocked[] {
  const found = new Map<string, Blocked>();
  const block = (r: Reacher, at: string, st: Pick<Stats, "uid" | "gid" | "mode">, need: Blocked["need"], what: string, target: Blocked["target"]) => {
    const key = `${at}\0${need}\0${what}`;
    let b = found.get(key);
    if (!b) found.set(key, b = { at, mode: st.mode & 0o7777, owner: st.uid, group: st.gid, need, what, target, services: [] });
    if (!b.services.some((s) => s.id === r.id)) b.services.push({ id: r.id, uid: r.uid, gid: r.gid });
  };
  for (const r of reachers) {
    if (r.uid === 0) continue;
    const targets = [
      ...r.folders.map((f) => ({ ...f, target: "folder" as const })),
      ...(r.program ? [{ what: `its program ${r.program}`, path: r.program, target: "program" as const }] : []),
    ];
    for (const t of targets) {
      // The first folder on the way that refuses is the one to change; the rest cannot be judged.
      const stop = ancestors(t.path).find((d) => { const st = stat(d); return st !== undefined && !permits(st, r.uid, r.gid, X); });
      if (stop !== undefined) { block(r, stop, stat(stop)!, "search", t.what, t.target); continue; }
      if (t.target === "program") {
        const st = stat(t.path);
        if (st && !permits(st, r.uid, r.gid, X)) block(r, t.path, st, "execute", t.what, t.target);
      }
    }
  }
  return [...found.values()];
}

function statOrUndefined(p: string): Stats | undefined {
  try { return statSync(p); } catch { return undefined; }
}

/** What an operator reads: which services, what they need, which folder stops them, what to change. */
export function describeProblem(b: Blocked): string {
  const who = b.services.map((s) => `${s.id} (uid ${s.uid}, gid ${s.gid})`).join(", ");
  const mode = b.mode.toString(8).padStart(4, "0");
  const verb = b.services.length === 1 ? "runs" : "run";
  const them = b.services.length === 1 ? "it" : "them";
  const fix = b.target === "folder"
    ? `choose a --state-dir whose every parent others may pass through (e.g. under /var/lib or /srv), or let ${them} through: chmod o+x ${b.at}`
    : `put the binary where others may run it (e.g. /usr/local/bin), or ${b.need === "search" ? `let ${them} through` : `let ${them} run it`}: chmod o+x ${b.at}`;
  return `${who} ${verb} as ${b.services.length === 1 ? "its own user" : "their own users"} and cannot reach ${b.what}: ` +
    `${b.at} (mode ${mode}, owner ${b.owner}:${b.group}) ${b.need === "search" ? `does not let ${them} through` : `may not be run by ${them}`}; ${fix}`;
}

/** init refuses to boot: the services would fail at every start (the message says what to change). */
export class ServiceAccessError extends Error {
  constructor(readonly problems: Blocked[]) {
    super(`services cannot reach what they need:\n${problems.map((p) => `  ${describeProblem(p)}`).join("\n")}`);
    this.name = "ServiceAccessError";
  }
}
