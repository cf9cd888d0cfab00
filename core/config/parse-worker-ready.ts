/** What the config checker's Worker posts once its modules are loaded, before any document. */
export const WORKER_READY = "bunker-config-checker-ready";
