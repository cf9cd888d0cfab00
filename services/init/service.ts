/** What a service declares, and the states and events it reports. */
import type { ExecSpec } from "../exec-helper/spec.ts";
import type { Kind } from "../../core/resources/index.ts";

export type ServiceState = "Waiting" | "Preparing" | "Running" | "Stopping" | "Finished" | "Failed" | "Skipped";

export type RestartPolicy = "always" | "on-failure" | "never";

/** Something a service waits for before it starts. */
export interface Condition {
  /** Shown while unmet, e.g. "file /run/x exists". */
  describe: string;
  /** Resolves when met; rejects (AbortError) when the signal aborts. */
  wait(signal: AbortSignal): Promise<void>;
}

export interface Runner extends Omit<ExecSpec, "env" | "cgroup"> {
  env?: Record<string, string>;
  cwd?: string;
  /** The cgroup name under init's service cgroup root (default: the service id). */
  cgroup?: string;
}

export interface HealthCheck {
  initialDelayMs?: number;
  intervalMs?: number;
  timeoutMs?: number;
  /** Resolves when healthy; rejects (or times out) when not. */
  check(signal: AbortSignal): Promise<void>;
}

export interface ServiceSpec {
  id: string;
  description?: string;
  dependsOn?: string[];
  conditions?: Condition[];
  /** When it returns a reason, the service is Skipped with it (e.g. its personality is not built in). */
  skip?: () => string | undefined;
  preStart?: (signal: AbortSignal) => Promise<void> | void;
  runner: Runner;
  health?: HealthCheck;
  restart?: {
    policy?: RestartPolicy;
    /** First delay after an exit (default 500 ms); doubles per quick exit. */
    baseDelayMs?: number;
    /** Cap of the delay (default and maximum 30 s). */
    maxDelayMs?: number;
    /** A run this long resets the backoff (default 30 s). */
    resetAfterMs?: number;
  };
  /** SIGTERM, then SIGKILL after this long (default 10 s). */
  stopGraceMs?: number;
  /**
   * Bytes of memory the service's cgroup may use (cgroup v2 memory.max): beyond, the kernel
   * reclaims and then OOM-kills inside that cgroup only, and the restart policy applies. Only
   * where init manages cgroups (a node); container mode leaves limits to the container runtime.
   */
  memoryMax?: number;
  /**
   * Resource kinds this service writes into init's store through the internal ResourcePublisher,
   * known by its runner.uid (which must be its own: not root, not init's uid).
   */
  publishes?: readonly Kind[];
  /** Resource kinds this service may read over init's socket (its config), by the same uid. */
  reads?: readonly Kind[];
}

export interface ServiceEvent {
  time: string;
  state: ServiceState;
  message: string;
  /** Set on the events of the health check: its result, so readers need not parse the message. */
  health?: "passed" | "failed";
}

/** The Service resource's spec. */
export interface ServiceStatus {
  state: ServiceState;
  running: boolean;
  /** undefined without a health check. */
  healthy?: boolean;
  pid?: number;
  restarts: number;
  /** The last exit; one with an error keeps the last lines the run wrote (bounded). */
  lastExit?: { code: number | null; signal: string | null; time: string; output?: string[] };
  dependsOn: string[];
  description: string;
  events: ServiceEvent[];
}

export const MAX_EVENTS = 64;
export const MAX_RESTART_DELAY_MS = 30_000;
