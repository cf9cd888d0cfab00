/**
 * The Worker behind loadConfigOffThread: one message (text, mode) in, one LoadResult out. Kept
 * apart so that a hostile document costs this thread, not the caller's event loop, and so the
 * caller can terminate it. Listed as an entry point in scripts/build.ts: the compiled binary
 * carries it.
 */
import { readlinkSync } from "node:fs";
import { loadConfig, type LoadOptions } from "./load.ts";
import { WORKER_READY, type WorkerReady } from "./parse-worker-ready.ts";

declare const self: Worker;

self.onmessage = (e: MessageEvent<{ text: string; options: LoadOptions }>) => {
  postMessage(loadConfig(e.data.text, e.data.options));
};

/** This thread's id: /proc/thread-self links to PID/task/TID (read here, on the Worker's own thread). */
function threadId(): number | undefined {
  try {
    const tid = Number(readlinkSync("/proc/thread-self").split("/").pop());
    return Number.isSafeInteger(tid) && tid > 0 ? tid : undefined;
  } catch {
    return undefined;
  }
}

// Loaded and listening: the caller starts the document's bound from here, on this thread's CPU time.
postMessage({ ready: WORKER_READY, tid: threadId() } satisfies WorkerReady);
