/**
 * Handlers for gRPC tests: a MachineService with known answers, recording what the server saw
 * (cancellations, deadlines) so tests can check that the server's work really stopped.
 */
import { MachineService as M } from "../../core/api/gen/services.ts";
import { GrpcServer, type ServerOptions } from "../../core/grpc/server.ts";
import { GrpcError, Status, statusName } from "../../core/grpc/status.ts";

export { eventually } from "./eventually.ts";

export interface Observed {
  /** Status names of the abort reasons seen by handlers, per method name. */
  aborts: Record<string, string[]>;
  /** Messages still produced by a follow stream after its signal fired (must stay 0). */
  yieldedAfterAbort: number;
}

/** Resolves after ms, or at once when the signal fires. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

function recordAbort(o: Observed, method: string, signal: AbortSignal): void {
  const reason = signal.reason;
  (o.aborts[method] ??= []).push(reason instanceof GrpcError ? statusName(reason.code) : String(reason));
}

export function fixtureServer(options: ServerOptions = {}): { server: GrpcServer; observed: Observed } {
  const observed: Observed = { aborts: {}, yieldedAfterAbort: 0 };
  const server = new GrpcServer(options);
  server.handle(M.Version, (_req, ctx) => {
    const md: Record<string, string> = {};
    for (const [k, v] of Object.entries(ctx.metadata)) md[k] = typeof v === "string" ? v : Buffer.from(v).toString("hex");
    ctx.sendMetadata({ "x-served-by": "bunker" });
    ctx.setTrailers({ "x-count-bin": new Uint8Array([1, 2]) });
    const subject = ctx.peer.transport === "tls" ? ctx.peer.certificate?.subject : undefined;
    return { version: "1.2.3", hostname: JSON.stringify(md), commit: subject ? `CN=${subject.CN}` : ctx.peer.transport };
  });
  server.handle(M.Logs, async function* (req, ctx) {
    if (req.id === "missing") throw new GrpcError(Status.NOT_FOUND, "service «missing» not found");
    if (req.id === "follow") {
      ctx.signal.addEventListener("abort", () => recordAbort(observed, "Logs", ctx.signal), { once: true });
      for (let i = 0; i < 3000 && !ctx.signal.aborted; i++) {
        yield { message: `f${i}` };
        if (ctx.signal.aborted) observed.yieldedAfterAbort++;
        await sleep(10, ctx.signal);
      }
      return;
    }
    for (let i = 0; i < (req.tail ?? 0); i++) yield { message: `line ${i}`, time: Date.now() };
  });
  server.handle(M.ServiceStart, (req) => {
    throw new GrpcError(Status.NOT_FOUND, `service «${req.id}» not found`);
  });
  server.handle(M.Hostname, async (_req, ctx) => {
    await sleep(10_000, ctx.signal);
    if (ctx.signal.aborted) recordAbort(observed, "Hostname", ctx.signal);
    return { hostname: "late" };
  });
  server.handle(M.ApplyConfiguration, (req) => ({ message: `got ${req.data?.length ?? 0} bytes` }));
  server.handle(M.Read, async function* (req) {
    // A chunk of the requested size (path is a number), to test response limits.
    yield { data: new Uint8Array(Number(req.path)) };
  });
  return { server, observed };
}
