/**
 * How one run of a service is started: straight (its uid and gid only), or through exec-helper
 * when it needs capabilities, no_new_privs, a cgroup, an OOM score or rlimits; its cgroup made
 * and its memory.max set before the process joins, so it never runs unbounded.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { selfCommand } from "../../core/sys/self.ts";
import { EXEC_SPEC_ENV, type ExecSpec } from "../exec-helper/spec.ts";
import { spawnTracked } from "./children.ts";
import type { ServiceSpec } from "./service.ts";

/** A running service process: stdin closed, stdout and stderr piped to the supervisor. */
export type ServiceProcess = Bun.Subprocess<"ignore", "pipe", "pipe">;

/** The service's own cgroup under `root` (none without a root: container mode). */
export function serviceCgroup(spec: ServiceSpec, root: string | undefined): string | undefined {
  if (!root) return undefined;
  return `${root}/${spec.runner.cgroup ?? spec.id}`;
}

/** Starts the service's process, detached (it leads its own process group). */
export function spawnService(service: ServiceSpec, o: { cgroup: string | undefined; defaultEnv?: Record<string, string> }): ServiceProcess {
  const r = service.runner;
  const env = r.env ?? o.defaultEnv ?? { PATH: "/usr/bin:/bin" };
  const { cgroup } = o;
  if (cgroup && !existsSync(cgroup)) mkdirSync(cgroup, { recursive: true });
  // Before the process joins: it never runs unbounded. A missing memory controller fails the
  // start (and the restart policy retries) rather than run a service without its limit.
  if (cgroup && service.memoryMax !== undefined) {
    try {
      writeFileSync(`${cgroup}/memory.max`, String(service.memoryMax));
    } catch (err) {
      throw new Error(`setting memory.max of ${cgroup} to ${service.memoryMax}: ${(err as Error).message}`);
    }
  }
  const needsHelper = r.capabilities !== undefined || r.noNewPrivs || cgroup !== undefined ||
    r.oomScoreAdj !== undefined || r.rlimits !== undefined;
  const common = { stdin: "ignore", stdout: "pipe", stderr: "pipe", detached: true, cwd: r.cwd ?? "/" } as const;
  if (!needsHelper) {
    return spawnTracked(r.argv, { ...common, env, argv0: r.argv0, uid: r.uid, gid: r.gid });
  }
  const spec: ExecSpec = {
    argv: r.argv, argv0: r.argv0, uid: r.uid, gid: r.gid, capabilities: r.capabilities,
    noNewPrivs: r.noNewPrivs, cgroup, oomScoreAdj: r.oomScoreAdj, rlimits: r.rlimits, env,
  };
  // The helper is this binary: give it a clean environment so nothing in the service's env
  // (BUN_OPTIONS, BUN_BE_BUN) can change how it runs.
  return spawnTracked([...selfCommand(), "exec-helper"], {
    ...common, argv0: "bunker", env: { [EXEC_SPEC_ENV]: JSON.stringify(spec), PATH: "/usr/bin:/bin" },
  });
}
