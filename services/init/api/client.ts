/** A client of init's local socket, for the power personalities and tests. */
import { connect, type Socket } from "node:net";
import { ApiError, type ErrorCode, type Response } from "./protocol.ts";

export class InitClient {
  private nextId = 1;
  private buf = "";
  private readonly waiting = new Map<number, (r: Response) => void>();
  private failure: Error | undefined;

  private constructor(private readonly sock: Socket) {
    sock.setEncoding("utf8");
    sock.on("data", (d: string) => {
      this.buf += d;
      let nl: number;
      while ((nl = this.buf.indexOf("\n")) >= 0) {
        const r = JSON.parse(this.buf.slice(0, nl)) as Response;
        this.buf = this.buf.slice(nl + 1);
        if (r.id === 0 && "error" in r) this.failure = new ApiError(r.error.code, r.error.message);
        this.waiting.get(r.id)?.(r);
      }
    });
    const end = () => {
      this.failure ??= new Error("init closed the connection");
      for (const [id, f] of this.waiting) f({ id, error: { code: "unavailable", message: this.failure.message } });
    };
    sock.on("close", end);
    sock.on("error", (e) => { this.failure = e; end(); });
  }

  static connect(path: string): Promise<InitClient> {
    return new Promise((resolve, reject) => {
      const s = connect(path);
      s.once("connect", () => resolve(new InitClient(s)));
      s.once("error", (e) => reject(new Error(`connecting to init at ${path}: ${e.message}`)));
    });
  }

  close(): void { this.sock.destroy(); }

  private send(method: string, params: Record<string, unknown>): number {
    const id = this.nextId++;
    this.sock.write(JSON.stringify({ id, method, params }) + "\n");
    return id;
  }

  call<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const id = this.send(method, params);
      this.waiting.set(id, (r) => {
        this.waiting.delete(id);
        if ("error" in r) reject(new ApiError(r.error.code as ErrorCode, r.error.message));
        else if ("result" in r) resolve(r.result as T);
      });
    });
  }

  /** Calls a streaming method; `onItem` returning false cancels the stream. */
  stream<T = unknown>(method: string, params: Record<string, unknown>, onItem: (item: T) => boolean | void): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const id = this.send(method, params);
      this.waiting.set(id, (r) => {
        if ("item" in r) {
          if (onItem(r.item as T) === false) this.sock.write(JSON.stringify({ id, cancel: true }) + "\n");
          return;
        }
        this.waiting.delete(id);
        if ("error" in r) reject(new ApiError(r.error.code as ErrorCode, r.error.message));
        else resolve();
      });
    });
  }
}
