/**
 * The services that run as uids of their own, as the rest of init needs them: which of them may
 * publish resources and read what (the socket's authorisation), and, in container mode, whether
 * each can reach its folders and program at all.
 */
import { mkdirSync } from "node:fs";
import type { Kind } from "../../../core/resources/index.ts";
import { accessProblems, type Reacher, ServiceAccessError } from "../access.ts";
import type { PublisherEntry } from "../api/publisher.ts";
import type { Supervisor } from "../supervisor.ts";

/**
 * Who may publish resources (ResourcePublisher): each service that declares kinds and runs as
 * a uid of its own. One without (root, or init's uid) could not be told from the console.
 */
export function publishers(supervisor: Supervisor): PublisherEntry[] {
  const own = new Set([0, process.getuid?.() ?? 0]);
  const out: PublisherEntry[] = [];
  for (const id of supervisor.ids()) {
    const spec = supervisor.spec(id);
    if (spec.publishes?.length && spec.runner.uid !== undefined && !own.has(spec.runner.uid)) {
      out.push({ uid: spec.runner.uid, owner: id, kinds: spec.publishes });
    }
  }
  return out;
}

/** The publishing service running as `uid`, and what it may read (init's socket authorisation). */
export function serviceOfUid(supervisor: Supervisor, uid: number): { id: string; reads: readonly Kind[] } | undefined {
  const p = publishers(supervisor).find((e) => e.uid === uid);
  return p ? { id: p.owner, reads: supervisor.spec(p.owner).reads ?? [] } : undefined;
}

/**
 * Container mode: every service that runs as its own uid must get through the state dir's
 * parents and to its program, or it would exit at every start; throws ServiceAccessError
 * naming the folder and what to change. (A node's folders are init's own: nothing to check.)
 */
export function checkServiceAccess(supervisor: Supervisor, dirs: { stateDir: string; runDir: string }): void {
  mkdirSync(dirs.stateDir, { recursive: true });
  const own = process.getuid?.();
  const reachers: Reacher[] = [];
  for (const id of supervisor.ids()) {
    const spec = supervisor.spec(id);
    const uid = spec.runner.uid;
    if (uid === undefined || uid === own || spec.skip?.()) continue;
    const folders = [...new Set([dirs.runDir, dirs.stateDir])].map((path) => ({ what: `the state dir ${path}`, path }));
    reachers.push({ id, uid, gid: spec.runner.gid ?? uid, folders, program: spec.runner.argv[0] });
  }
  const problems = accessProblems(reachers);
  if (problems.length) throw new ServiceAccessError(problems);
}
