/**
 * The Worker behind loadConfigOffThread: one message (text, mode) in, one LoadResult out. Kept
 * apart so that a hostile document costs this thread, not the caller's event loop, and so the
 * caller can terminate it. Listed as an entry point in scripts/build.ts: the compiled binary
 * carries it.
 */
import { loadConfig, type LoadOptions } from "./load.ts";
import { WORKER_READY } from "./parse-worker-ready.ts";

declare const self: Worker;

self.onmessage = (e: MessageEvent<{ text: string; options: LoadOptions }>) => {
  postMessage(loadConfig(e.data.text, e.data.options));
};

// Loaded and listening: the caller starts the document's time bound from here.
postMessage(WORKER_READY);
