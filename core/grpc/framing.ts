/**
 * gRPC length-prefixed messages: 1 byte compressed flag, 4 bytes big-endian length, then the
 * message. The decoder takes HTTP/2 DATA chunks of any size and yields whole messages, refusing
 * one larger than its limit as soon as the 5-byte prefix announces it (before buffering it).
 */
import { GrpcError, Status } from "./status.ts";

/** One message with its 5-byte prefix (never compressed). */
export function encodeFrame(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.byteLength);
  out[0] = 0;
  out.writeUInt32BE(message.byteLength, 1);
  out.set(message, 5);
  return out;
}

export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;

  /** @param maxMessage largest message accepted, in bytes; `what` names the side in errors. */
  constructor(
    private readonly maxMessage: number,
    private readonly what = "message",
  ) {}

  /** Bytes received but not yet part of a whole message. */
  get pending(): number {
    return this.buffered;
  }

  /** Adds a chunk; returns the messages it completed. Throws GrpcError on a bad prefix. */
  push(chunk: Uint8Array): Buffer[] {
    this.chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.buffered += chunk.byteLength;
    const out: Buffer[] = [];
    while (this.buffered >= 5) {
      const head = this.peek(5);
      const flag = head[0]!;
      const len = head.readUInt32BE(1);
      if (flag === 1) {
        throw new GrpcError(Status.UNIMPLEMENTED, `compressed ${this.what} received; only identity encoding is supported`);
      }
      if (flag !== 0) throw new GrpcError(Status.INTERNAL, `${this.what} frame has invalid flag byte ${flag}`);
      if (len > this.maxMessage) {
        throw new GrpcError(Status.RESOURCE_EXHAUSTED, `${this.what} of ${len} bytes is larger than the limit of ${this.maxMessage} bytes`);
      }
      if (this.buffered < 5 + len) break;
      out.push(this.take(5 + len).subarray(5));
    }
    return out;
  }

  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!.subarray(0, n);
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.buffered = rest.length;
    return all.subarray(0, n);
  }
}
