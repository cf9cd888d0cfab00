/**
 * One shipped log record and its wire form: a JSON object per line (machine.logging
 * destinations' format json_lines), as Talos ships them: the message, when it was written, the
 * node and the service it came from, and the level where the source says one.
 */

export interface LogRecord {
  /** The line's text, without its newline. */
  msg: string;
  /** Milliseconds since the epoch when it was written. */
  time: number;
  /** The service's id, or "kernel" for the kernel's log. */
  service: string;
  /** syslog's words (emerg ... debug), where the source says one (the kernel does). */
  level?: string;
  /** stdout or stderr, for a service's lines. */
  stream?: string;
}

let isoFor = NaN;
let iso = "";

/** The one JSON line of a record (no trailing newline). `hostname` names the node. */
export function encodeRecord(r: LogRecord, hostname: string): string {
  // Built by hand: this runs for every line a service writes, and an object spread through
  // JSON.stringify costs several times more. The lines of one chunk share their time: the
  // ISO text is made once for them.
  if (r.time !== isoFor) { isoFor = r.time; iso = new Date(r.time).toISOString(); }
  let out = `{"msg":${JSON.stringify(r.msg)},"time":"${iso}","hostname":${JSON.stringify(hostname)},"service":${JSON.stringify(r.service)}`;
  if (r.level) out += `,"level":${JSON.stringify(r.level)}`;
  if (r.stream) out += `,"stream":${JSON.stringify(r.stream)}`;
  return out + "}";
}

const LEVELS = ["emerg", "alert", "crit", "error", "warning", "notice", "info", "debug"] as const;

/** syslog's name of a kernel priority (0-7). */
export function levelName(priority: number): string {
  return LEVELS[priority & 7]!;
}

/**
 * Cuts a byte stream into lines. A line longer than `maxBytes` is sent in pieces of that size, so
 * a service writing without newlines cannot make the splitter hold unbounded memory; a piece may
 * end inside a multi-byte character (decoded as U+FFFD), which beats dropping the text.
 */
export class LineSplitter {
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private readonly decoder = new TextDecoder();

  constructor(readonly maxBytes = 16 * 1024) {
    if (!(maxBytes > 0)) throw new RangeError(`LineSplitter: maxBytes must be positive, got ${maxBytes}`);
  }

  /** The whole lines completed by `chunk` (without their newlines; a trailing "\r" is dropped too). */
  push(chunk: Uint8Array): string[] {
    const out: string[] = [];
    let from = 0;
    while (from < chunk.byteLength) {
      const nl = chunk.indexOf(10, from);
      const end = nl < 0 ? chunk.byteLength : nl;
      // The usual case, a whole line inside the chunk: decoded where it is, nothing copied.
      if (nl >= 0 && this.pendingBytes === 0 && end - from <= this.maxBytes) {
        out.push(trimCR(this.decoder.decode(chunk.subarray(from, end))));
        from = nl + 1;
        continue;
      }
      let piece = chunk.subarray(from, end);
      // Past the bound: emit what fills it, keep going with the rest of this line.
      while (this.pendingBytes + piece.byteLength > this.maxBytes) {
        const room = this.maxBytes - this.pendingBytes;
        this.keep(piece.subarray(0, room));
        out.push(this.take());
        piece = piece.subarray(room);
      }
      this.keep(piece);
      if (nl < 0) break;
      out.push(this.take());
      from = nl + 1;
    }
    return out;
  }

  /** What is left without a newline (at the end of a stream), if anything. */
  flush(): string | undefined {
    return this.pendingBytes > 0 ? this.take() : undefined;
  }

  private keep(b: Uint8Array): void {
    if (b.byteLength === 0) return;
    // A copy: the chunk's buffer may be reused by the stream that produced it.
    this.pending.push(b.slice());
    this.pendingBytes += b.byteLength;
  }

  private take(): string {
    const all = new Uint8Array(this.pendingBytes);
    let at = 0;
    for (const p of this.pending) { all.set(p, at); at += p.byteLength; }
    this.pending = [];
    this.pendingBytes = 0;
    return trimCR(this.decoder.decode(all));
  }
}

function trimCR(text: string): string {
  return text.endsWith("\r") ? text.slice(0, -1) : text;
}
