/** What the config checker's Worker posts once its modules are loaded, before any document. */
export const WORKER_READY = "bunker-config-checker-ready";

/** The ready message: the Worker's kernel thread id, when /proc names it, so the caller can read the thread's CPU time. */
export interface WorkerReady {
  ready: typeof WORKER_READY;
  tid?: number;
}
