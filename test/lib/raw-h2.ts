/**
 * A bare HTTP/2 request to a gRPC server, bypassing our client, so tests can send what a
 * well-behaved client never would (bad frames, bad headers, a stalled body).
 */
import http2 from "node:http2";
import net from "node:net";

export interface RawAnswer {
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders;
  data: Buffer;
  /** RST_STREAM code when the server reset the stream, else 0. */
  rstCode: number;
  /** grpc-status from trailers, or from the headers of a trailers-only answer. */
  status: number | undefined;
  message: string | undefined;
}

export function connectUnix(path: string): http2.ClientHttp2Session {
  const s = http2.connect("http://localhost", { createConnection: () => net.connect(path) });
  s.on("error", () => {});
  return s;
}

/** Sends headers and body chunks (ending the request unless `keepOpen`); resolves when the stream closes. */
export function rawCall(
  session: http2.ClientHttp2Session,
  path: string,
  body: Uint8Array[] | Uint8Array,
  opts: { headers?: http2.OutgoingHttpHeaders; keepOpen?: boolean; timeoutMs?: number } = {},
): Promise<RawAnswer> {
  const req = session.request({
    ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers", ...opts.headers,
  });
  const ans: RawAnswer = { headers: {}, trailers: {}, data: Buffer.alloc(0), rstCode: 0, status: undefined, message: undefined };
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { req.close(); reject(new Error(`raw call ${path}: no answer within ${opts.timeoutMs ?? 5000} ms`)); }, opts.timeoutMs ?? 5000);
    req.on("response", (h) => { ans.headers = h; });
    req.on("trailers", (t) => { ans.trailers = t; });
    req.on("data", (d: Buffer) => chunks.push(d));
    req.on("error", () => {});
    req.on("close", () => {
      clearTimeout(timer);
      ans.data = Buffer.concat(chunks);
      ans.rstCode = req.rstCode ?? 0;
      const src = ans.trailers["grpc-status"] !== undefined ? ans.trailers : ans.headers;
      ans.status = src["grpc-status"] === undefined ? undefined : Number(src["grpc-status"]);
      ans.message = src["grpc-message"] === undefined ? undefined : decodeURIComponent(String(src["grpc-message"]));
      resolve(ans);
    });
    for (const b of Array.isArray(body) ? body : [body]) req.write(b);
    if (!opts.keepOpen) req.end();
  });
}
