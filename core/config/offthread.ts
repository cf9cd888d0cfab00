/**
 * loadConfigOffThread: loadConfig in a Worker, for configs from callers that are not trusted yet
 * (the API's ApplyConfiguration, in maintenance mode before any certificate exists). PID 1 parses
 * them, and even bounded, a hostile document at the size cap costs the yaml package hundreds of
 * milliseconds on a busy machine (bench/results/config.md): in a Worker, init's event loop keeps
 * answering meanwhile, and a check that runs past its time is terminated. Checks run one at a
 * time; a few more may wait, the rest are refused as busy, so a flood of dry-runs costs one
 * Worker, not one each.
 */
import { BunkerError } from "../errors.ts";
import { dirname } from "node:path";
import { MAX_CONFIG_BYTES, oversizeMessage, type LoadOptions, type LoadResult } from "./load.ts";
import { WORKER_READY, type WorkerReady } from "./parse-worker-ready.ts";
import { threadCpuSeconds } from "../procfs/processes.ts";

/** The off-thread check could not give an answer: busy is UNAVAILABLE, the others INVALID_ARGUMENT. */
export class ConfigCheckError extends BunkerError {
  constructor(override readonly reason: "busy" | "timeout" | "failed", message: string) {
    super(reason === "busy" ? "unavailable" : "invalid_argument", message, { reason });
    this.name = "ConfigCheckError";
  }
}

export interface OffThreadOptions {
  /**
   * How much CPU time the checker's thread may spend on one document before it is terminated
   * (default 10 s). CPU, not wall time: on a busy node (a VM booting beside three others on an
   * emulated CPU) a valid config waits for a CPU far longer than it runs, and only the running is
   * the document's cost. Where /proc does not name the thread, this bounds wall time instead.
   */
  timeoutMs?: number;
  /** How long one check may take in wall time, however little CPU it gets (default 60 s). */
  wallMs?: number;
  /** How long the Worker may take to start (default 60 s): not the document's cost, but bounded too. */
  startupMs?: number;
  /** The checker's code (default: parse-worker); tests pass one that starts slowly. */
  worker?: string;
  /** How many checks may wait behind the running one (default 4). */
  maxWaiting?: number;
}

let tail: Promise<unknown> = Promise.resolve();
/** Checks running or waiting. */
let pending = 0;

export async function loadConfigOffThread(text: string, options: LoadOptions = {}, o: OffThreadOptions = {}): Promise<LoadResult> {
  // Refused here without a Worker: the cap is the same as loadConfig's.
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > MAX_CONFIG_BYTES) return { errors: [{ path: "(root)", line: 1, column: 1, message: oversizeMessage(bytes) }], warnings: [] };
  if (pending > (o.maxWaiting ?? 4)) throw new ConfigCheckError("busy", "busy: other configs are being checked; try again");
  pending++;
  const previous = tail;
  const run = (async () => {
    try {
      await previous.catch(() => {});
      return await check(text, options, { timeoutMs: o.timeoutMs ?? 10_000, wallMs: o.wallMs ?? 60_000, startupMs: o.startupMs ?? 60_000, worker: o.worker ?? workerPath() });
    } finally {
      pending--;
    }
  })();
  tail = run;
  return await run;
}

/**
 * Where the Worker's code is. In the compiled binary, scripts/build.ts embeds parse-worker.ts as
 * its own entry point, at its path under the build's root beside the binary's main module (the
 * bundle's import.meta.url still names the source file, which a node does not have).
 */
function workerPath(): string {
  if (Bun.main.startsWith("/$bunfs/")) return `${dirname(Bun.main)}/core/config/parse-worker.js`;
  return new URL("./parse-worker.ts", import.meta.url).href;
}

/** How often the checker's CPU time is read: a tenth of a second is a few syscalls, and the bound is seconds. */
const CPU_POLL_MS = 100;

type Bounds = Required<Pick<OffThreadOptions, "timeoutMs" | "wallMs" | "startupMs" | "worker">>;

/**
 * One check in a fresh Worker. The document's bounds start when the Worker says it is ready: its
 * start-up (a JS context, the loader's modules) is no part of what the document costs, and in an
 * emulated CPU under load it alone has taken longer than 10 s. From then on the Worker's thread
 * may use timeoutMs of CPU and wallMs of wall time.
 */
function check(text: string, options: LoadOptions, b: Bounds): Promise<LoadResult> {
  const worker = new Worker(b.worker);
  return new Promise<LoadResult>((resolve, reject) => {
    let poll: ReturnType<typeof setInterval> | undefined;
    const done = (f: () => void) => {
      clearTimeout(timer);
      clearInterval(poll);
      worker.terminate();
      f();
    };
    const refuse = (what: string) => done(() => reject(new ConfigCheckError("timeout", `checking the config took longer than ${what}: refused`)));
    let timer = setTimeout(() => done(() => reject(new ConfigCheckError("failed", `the config checker did not start within ${b.startupMs / 1000} s`))), b.startupMs);
    worker.onmessage = (e: MessageEvent<LoadResult | WorkerReady>) => {
      const data = e.data;
      if ("ready" in data && data.ready === WORKER_READY) {
        clearTimeout(timer);
        const start = data.tid === undefined ? undefined : threadCpuSeconds(data.tid);
        if (data.tid === undefined || start === undefined) {
          timer = setTimeout(() => refuse(`${b.timeoutMs / 1000} s`), b.timeoutMs);
        } else {
          const tid = data.tid;
          timer = setTimeout(() => refuse(`${b.wallMs / 1000} s`), b.wallMs);
          poll = setInterval(() => {
            const used = ((threadCpuSeconds(tid) ?? start) - start) * 1000;
            if (used > b.timeoutMs) refuse(`${b.timeoutMs / 1000} s of CPU`);
          }, Math.min(CPU_POLL_MS, b.timeoutMs));
        }
        worker.postMessage({ text, options });
        return;
      }
      done(() => resolve(data as LoadResult));
    };
    worker.onerror = (e) => done(() => reject(new ConfigCheckError("failed", `checking the config failed: ${e.message}`)));
  });
}
