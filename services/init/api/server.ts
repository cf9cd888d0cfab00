/**
 * init's local API server: the JSON-lines protocol on a unix socket. Each connection is
 * authorised once, by the kernel's SO_PEERCRED (uid), taken when it opens; a refused peer gets
 * permission_denied for its first request and the connection is closed. Streams end
 * when the client cancels or goes away; a reader too slow to take what it asked for is cut off
 * rather than letting init buffer without bound.
 */
import { chmodSync, mkdirSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { peerCredentials, type PeerCred } from "../../../core/sys/peercred.ts";
import { toApiError, type CallContext, type Handlers } from "./handlers.ts";
import type { Request, Response } from "./protocol.ts";

const MAX_LINE = 4 << 20;
const MAX_PENDING = 8 << 20;

interface Conn {
  buf: string;
  pending: string;
  peer?: PeerCred;
  calls: Map<number, AbortController>;
  closed: boolean;
}

type Sock = Bun.Socket<Conn>;

export interface ServeOptions {
  path: string;
  handlers: Handlers;
  /** uids allowed to call (root and init's own uid by default). */
  allowUids?: number[];
  onError?: (msg: string) => void;
}

export function serveApi(o: ServeOptions): { stop(): void } {
  mkdirSync(dirname(o.path), { recursive: true });
  rmSync(o.path, { force: true });
  const allow = new Set(o.allowUids ?? [0, process.getuid?.() ?? 0]);
  const table = o.handlers as unknown as Record<string, (p: Record<string, unknown>, ctx: CallContext) => unknown>;

  const send = (sock: Sock, r: Response) => {
    const c = sock.data;
    if (c.closed) return;
    c.pending += JSON.stringify(r) + "\n";
    flush(sock);
  };
  const flush = (sock: Sock) => {
    const c = sock.data;
    if (!c.pending) return;
    const n = sock.write(c.pending);
    c.pending = n > 0 ? c.pending.slice(n) : c.pending;
    if (c.pending.length > MAX_PENDING) {
      o.onError?.(`api: client pid ${c.peer?.pid} does not read; closing`);
      sock.end();
    }
  };

  const dispatch = async (sock: Sock, req: Request) => {
    const c = sock.data;
    if (req.cancel) { c.calls.get(req.id)?.abort(); return; }
    const fn = Object.hasOwn(table, req.method) ? table[req.method] : undefined;
    if (!fn) return send(sock, { id: req.id, error: { code: "unimplemented", message: `method "${req.method}": unknown` } });
    const ac = new AbortController();
    c.calls.set(req.id, ac);
    try {
      const out = await fn(req.params ?? {}, { signal: ac.signal, peer: c.peer! });
      if (out && typeof out === "object" && Symbol.asyncIterator in out) {
        for await (const item of out as AsyncIterable<unknown>) {
          if (c.closed || ac.signal.aborted) break;
          send(sock, { id: req.id, item });
        }
        send(sock, { id: req.id, end: true });
      } else {
        send(sock, { id: req.id, result: out ?? null });
      }
    } catch (err) {
      const e = toApiError(err);
      send(sock, { id: req.id, error: { code: e.code, message: e.message } });
    } finally {
      c.calls.delete(req.id);
    }
  };

  const server = Bun.listen<Conn>({
    unix: o.path,
    socket: {
      open(sock) {
        sock.data = { buf: "", pending: "", calls: new Map(), closed: false };
        try {
          const fd = (sock as unknown as { fd?: number }).fd;
          if (fd === undefined) throw new Error("socket has no fd");
          sock.data.peer = peerCredentials(fd);
        } catch (err) {
          o.onError?.(`api: cannot read the peer's credentials: ${err instanceof Error ? err.message : String(err)}`);
        }
      },
      data(sock, chunk) {
        const c = sock.data;
        c.buf += chunk.toString();
        if (c.buf.length > MAX_LINE) {
          send(sock, { id: 0, error: { code: "invalid_argument", message: `request longer than ${MAX_LINE} bytes` } });
          sock.end();
          return;
        }
        let nl: number;
        while ((nl = c.buf.indexOf("\n")) >= 0) {
          const line = c.buf.slice(0, nl);
          c.buf = c.buf.slice(nl + 1);
          if (!line.trim()) continue;
          let req: Request;
          try {
            req = JSON.parse(line) as Request;
            if (typeof req.id !== "number" || (typeof req.method !== "string" && !req.cancel)) throw new Error("expected {id: number, method: string}");
          } catch (err) {
            send(sock, { id: 0, error: { code: "invalid_argument", message: `bad request: ${err instanceof Error ? err.message : String(err)}` } });
            continue;
          }
          if (!c.peer || !allow.has(c.peer.uid)) {
            // Answer the request it sent (closing at once would reset the connection before the
            // client reads why), then hang up: nothing else is read from this peer.
            send(sock, { id: req.id, error: { code: "permission_denied", message: `uid ${c.peer?.uid ?? "unknown"} may not use this socket` } });
            sock.end();
            return;
          }
          void dispatch(sock, req);
        }
      },
      drain(sock) { flush(sock); },
      close(sock) {
        sock.data.closed = true;
        for (const ac of sock.data.calls.values()) ac.abort();
      },
      error(sock, err) {
        o.onError?.(`api: connection error: ${err.message}`);
        sock.data.closed = true;
      },
    },
  });
  // Only root (and init's own uid, by SO_PEERCRED) may talk to init; the mode is a second fence.
  chmodSync(o.path, 0o660);
  return { stop: () => server.stop(true) };
}
