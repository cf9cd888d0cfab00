/**
 * `bunker exec-helper`: the few steps between fork and exec that Bun.spawn cannot take (it offers
 * uid, gid, cwd, env and setsid only). init spawns this same binary under this personality with
 * the spec in the environment; it joins the cgroup, sets oom_score_adj and rlimits while still
 * privileged, shrinks the capability bounding set, clears supplementary groups, sets gid then uid,
 * sets no_new_privs, and execs the target. The pid stays the same across exec, so Bun's watch of
 * the child (exit status, pipes) carries over to the service itself. Doing it in init between
 * fork and exec is impossible from JavaScript; a static C helper like the pre-init shim would save
 * this Bun start before every service (docs/init.md, "The runner").
 */
import { writeFileSync } from "node:fs";
import {
  CAPS, RLIMIT, execve, keepCapsOnUidChange, raiseAmbient, restrictBoundingSet, setCredentials, setNoNewPrivs, setRlimit,
} from "../../core/sys/process.ts";
import { EXEC_SPEC_ENV, type ExecSpec } from "./spec.ts";

const HELP = `Usage: bunker exec-helper   (with ${EXEC_SPEC_ENV} set by init)

Internal: applies a service's cgroup, oom_score_adj, rlimits, capability bounding set,
credentials and no_new_privs, then execs the service. Exit 127 when a step fails.`;

export function parseSpec(text: string | undefined): ExecSpec {
  if (!text) throw new Error(`${EXEC_SPEC_ENV} is not set`);
  const spec = JSON.parse(text) as ExecSpec;
  if (!Array.isArray(spec.argv) || spec.argv.length === 0 || !spec.argv.every((a) => typeof a === "string")) {
    throw new Error(`${EXEC_SPEC_ENV}: argv must be a non-empty list of strings`);
  }
  for (const c of spec.capabilities ?? []) if (CAPS[c] === undefined) throw new Error(`${EXEC_SPEC_ENV}: unknown capability ${c}`);
  for (const r of Object.keys(spec.rlimits ?? {})) if (!(r in RLIMIT)) throw new Error(`${EXEC_SPEC_ENV}: unknown rlimit ${r}`);
  return spec;
}

export function main(argv: string[]): number {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(HELP);
    return 0;
  }
  try {
    const spec = parseSpec(process.env[EXEC_SPEC_ENV]);
    const path = spec.argv[0]!.includes("/") ? spec.argv[0]! : Bun.which(spec.argv[0]!, { PATH: spec.env.PATH ?? "/usr/bin:/bin" });
    if (!path) throw new Error(`${spec.argv[0]}: not found in PATH`);
    if (spec.cgroup) writeFileSync(`${spec.cgroup}/cgroup.procs`, "0");
    if (spec.oomScoreAdj !== undefined) writeFileSync("/proc/self/oom_score_adj", String(spec.oomScoreAdj));
    for (const [name, [soft, hard]] of Object.entries(spec.rlimits ?? {})) {
      setRlimit(RLIMIT[name as keyof typeof RLIMIT], BigInt(soft), BigInt(hard));
    }
    const caps = spec.capabilities ? new Set(spec.capabilities.map((c) => CAPS[c]!)) : undefined;
    if (caps) restrictBoundingSet(caps);
    // A non-root uid loses every capability at setuid and again at execve, unless they are kept
    // across the uid change and raised as ambient capabilities.
    const dropsRoot = process.getuid?.() === 0 && (spec.uid ?? 0) !== 0;
    if (caps?.size && dropsRoot) keepCapsOnUidChange();
    if (process.getuid?.() === 0) setCredentials(spec.uid ?? 0, spec.gid ?? 0);
    else if ((spec.uid !== undefined && spec.uid !== process.getuid?.()) || (spec.gid !== undefined && spec.gid !== process.getgid?.())) {
      throw new Error(`uid ${spec.uid}/gid ${spec.gid}: only root can change credentials`);
    }
    if (caps?.size && dropsRoot) raiseAmbient(caps);
    if (spec.noNewPrivs) setNoNewPrivs();
    execve(path, [spec.argv0 ?? spec.argv[0]!, ...spec.argv.slice(1)], spec.env);
  } catch (err) {
    console.error(`exec-helper: ${err instanceof Error ? err.message : String(err)}`);
    return 127;
  }
}
