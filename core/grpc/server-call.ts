/**
 * One call on the gRPC server (core/grpc/server.ts): reading its request under the byte budgets,
 * running its handler, and ending it with a status; the first end wins.
 */
import http2 from "node:http2";
import { encodeFrame, FrameDecoder } from "./framing.ts";
import { metadataToHeaders, type Metadata } from "./metadata.ts";
import type { AnyMethod } from "./method.ts";
import type { CallContext, Entry, Opts } from "./server-types.ts";
import { encodeGrpcMessage, GrpcError, Status, statusOf } from "./status.ts";

export const GRPC_HEADERS = { ":status": 200, "content-type": "application/grpc", "grpc-accept-encoding": "identity" };

/** One call's state on the server: reading the request, running the handler, ending with a status. */
export class ServerCall {
  readonly ac = new AbortController();
  trailers: Metadata = {};
  private headersSent = false;
  private done = false;
  private timers: ReturnType<typeof setTimeout>[] = [];

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    private readonly opts: Opts,
    /** Told the errors whose text the caller does not see (statusOf). */
    private readonly onHidden: (err: Error) => void,
  ) {}

  /** Request bytes this call holds against its connection's (and the server's) budget. */
  private held = 0;
  private budget: ByteBudget | undefined;

  private releaseBuffered(): void {
    if (this.held) this.budget?.release(this.held);
    this.held = 0;
  }

  /** The stream closed: if the call had not ended, the client cancelled it. */
  closed(): void {
    this.clearTimers();
    this.releaseBuffered();
    if (!this.done) {
      this.done = true;
      this.ac.abort(new GrpcError(Status.CANCELLED, "call cancelled by the client"));
    }
  }

  startDeadline(ms: number): void {
    // setTimeout fires at once beyond 2^31-1 ms; such deadlines are effectively none.
    if (ms > 2_147_483_647) return;
    this.timers.push(setTimeout(() => this.finish(Status.DEADLINE_EXCEEDED, `deadline of ${ms} ms exceeded`), ms));
  }

  readRequest(entry: Entry, budget: ByteBudget, onRequest: (req: unknown) => void): void {
    const method = entry.method;
    this.budget = budget;
    const decoder = new FrameDecoder(entry.maxRequestBytes, `${method.name} request message`);
    const messages: Buffer[] = [];
    const stalled = setTimeout(() => {
      this.finish(Status.CANCELLED, `request not received within ${this.opts.requestTimeoutMs} ms; closing the stalled stream`);
    }, this.opts.requestTimeoutMs);
    this.timers.push(stalled);
    this.stream.on("data", (chunk: Buffer) => {
      if (this.done) return;
      try {
        budget.take(chunk.length);
        this.held += chunk.length;
        messages.push(...decoder.push(chunk));
        if (messages.length > 1) throw new GrpcError(Status.UNIMPLEMENTED, `${method.name} takes one request message; got more (client streaming is not supported)`);
      } catch (err) {
        this.fail(err);
      }
    });
    this.stream.once("end", () => {
      clearTimeout(stalled);
      // The body is decoded below (or refused): its bytes no longer count as held.
      this.releaseBuffered();
      if (this.done) return;
      if (decoder.pending > 0) return this.finish(Status.INTERNAL, `request ended inside a message (${decoder.pending} bytes left over)`);
      if (messages.length !== 1) return this.finish(Status.UNIMPLEMENTED, `${method.name} takes exactly one request message; got ${messages.length}`);
      let req: unknown;
      try {
        req = method.requestType.decode(messages[0]!);
      } catch (err) {
        return this.finish(Status.INTERNAL, `request is not a valid ${method.name} request: ${(err as Error).message}`);
      }
      onRequest(req);
    });
  }

  async run(entry: Entry, req: unknown, ctx: CallContext): Promise<void> {
    try {
      if (!entry.method.responseStream) {
        const res = await (entry.fn(req, ctx) as Promise<unknown>);
        if (this.done) return;
        // Message and trailers leave in one go: one write fewer per unary call.
        const frame = this.encodeResponse(entry.method, res);
        this.sendHeaders();
        return this.finish(Status.OK, "", frame);
      }
      for await (const res of entry.fn(req, ctx) as AsyncIterable<unknown>) {
        if (this.done) break; // leaving the loop runs the generator's finally blocks
        const frame = this.encodeResponse(entry.method, res);
        this.sendHeaders();
        if (this.done || this.stream.closed) break;
        if (!this.stream.write(frame)) await this.drained();
      }
      this.finish(Status.OK, "");
    } catch (err) {
      this.fail(err);
    }
  }

  sendHeaders(md: Metadata = {}): void {
    if (this.headersSent || this.done || this.stream.closed) return;
    this.headersSent = true;
    this.stream.respond({ ...GRPC_HEADERS, ...metadataToHeaders(md) }, { waitForTrailers: true });
    this.stream.once("wantTrailers", () => {
      try {
        this.stream.sendTrailers(this.pendingTrailers);
      } catch { /* stream already reset */ }
    });
  }

  private pendingTrailers: Record<string, string> = {};

  /** Ends the call with a status (after `lastFrame`, if given); the first end wins. */
  finish(code: number, details: string, lastFrame?: Buffer): void {
    if (this.done) return;
    this.done = true;
    this.clearTimers();
    this.releaseBuffered();
    if (code !== Status.OK) this.ac.abort(new GrpcError(code, details));
    if (this.stream.closed || this.stream.destroyed) return;
    let trailers: Record<string, string>;
    try {
      trailers = statusHeaders(code, details, metadataToHeaders(this.trailers));
    } catch (err) {
      trailers = statusHeaders(Status.INTERNAL, `bad trailing metadata: ${(err as Error).message}`, {});
    }
    if (!this.headersSent) {
      this.headersSent = true;
      this.stream.respond({ ...GRPC_HEADERS, ...trailers }, { endStream: true });
    } else {
      this.pendingTrailers = trailers;
      if (lastFrame) this.stream.end(lastFrame);
      else this.stream.end();
    }
    // A client still sending (an oversize or endless request) is told to stop.
    if (!this.stream.readableEnded) {
      const s = this.stream;
      setImmediate(() => { if (!s.closed) s.close(http2.constants.NGHTTP2_NO_ERROR); });
    }
  }

  private fail(err: unknown): void {
    const { error, hidden } = statusOf(err);
    if (hidden) this.onHidden(err instanceof Error ? err : new Error(String(err)));
    // The error's own trailing metadata (a reason; a relayed call's trailers) goes with its status.
    this.trailers = { ...this.trailers, ...error.metadata };
    this.finish(error.code, error.details);
  }

  /** One response as a frame; throws INTERNAL if it does not encode, RESOURCE_EXHAUSTED if too big. */
  private encodeResponse(method: AnyMethod, res: unknown): Buffer {
    let bytes: Uint8Array;
    try {
      bytes = method.responseType.encode(res).finish();
    } catch (err) {
      throw new GrpcError(Status.INTERNAL, `cannot encode ${method.name} response: ${(err as Error).message}`);
    }
    if (bytes.byteLength > this.opts.maxSendMessageBytes) {
      throw new GrpcError(Status.RESOURCE_EXHAUSTED, `${method.name} response of ${bytes.byteLength} bytes is larger than the limit of ${this.opts.maxSendMessageBytes} bytes`);
    }
    return encodeFrame(bytes);
  }

  /** Resolves when the stream can take more data or the call is over. */
  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.stream.off("drain", done);
        this.ac.signal.removeEventListener("abort", done);
        resolve();
      };
      this.stream.once("drain", done);
      this.ac.signal.addEventListener("abort", done, { once: true });
    });
  }

  private clearTimers(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
  }
}

/**
 * Bytes held on behalf of callers, under a cap, and under its parent's (a connection's budget
 * under the server's). take() throws RESOURCE_EXHAUSTED rather than exceed either.
 */
export class ByteBudget {
  private used = 0;
  constructor(private readonly limit: number, private readonly what: string, private readonly parent?: ByteBudget) {}

  take(n: number): void {
    if (this.used + n > this.limit) {
      throw new GrpcError(Status.RESOURCE_EXHAUSTED, `request bodies held for ${this.what} would exceed ${this.limit} bytes; try again later`);
    }
    this.parent?.take(n);
    this.used += n;
  }

  release(n: number): void {
    this.used = Math.max(0, this.used - n);
    this.parent?.release(n);
  }
}

function statusHeaders(code: number, details: string, extra: Record<string, string>): Record<string, string> {
  const h: Record<string, string> = { ...extra, "grpc-status": String(code) };
  if (details) h["grpc-message"] = encodeGrpcMessage(details);
  return h;
}
