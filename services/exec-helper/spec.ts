/**
 * What the exec helper applies before it becomes the service. It travels in the environment
 * variable below (readable only by the same uid and root, unlike argv), never into the target.
 */
export const EXEC_SPEC_ENV = "BUNKER_EXEC_SPEC";

export interface ExecSpec {
  /** Program and arguments; argv[0] is looked up in PATH when it has no slash. */
  argv: string[];
  /** What the target sees as argv[0] (defaults to argv[0]). */
  argv0?: string;
  uid?: number;
  gid?: number;
  /** Capabilities kept in the bounding set (names like CAP_NET_ADMIN); absent: unchanged. */
  capabilities?: string[];
  noNewPrivs?: boolean;
  /** A cgroup v2 directory to join before exec (absolute path). */
  cgroup?: string;
  oomScoreAdj?: number;
  /** Resource limits: name (NOFILE, NPROC, ...) to [soft, hard]. */
  rlimits?: Record<string, [number, number]>;
  /** The target's whole environment. */
  env: Record<string, string>;
}
