/**
 * A bounded byte ring for one service's stdout and stderr. Writes never block and never grow
 * memory past the capacity: the oldest bytes are overwritten. Positions are absolute byte counts
 * since the service was created, so a follower knows when it fell behind (its position is older
 * than the oldest byte kept) and skips ahead instead of reading garbage.
 *
 * Each write also leaves a mark (where it starts, when it arrived, from which stream), so a
 * reader can tell when a line was written, not when it was read. Marks are bounded too: past
 * MAX_MARKS the oldest go, and their bytes take the time of the next mark kept.
 */
export interface Segment {
  data: Uint8Array;
  /** Milliseconds since the epoch when these bytes arrived. */
  time: number;
  stream: string;
}

interface Mark { pos: number; time: number; stream: string }

const MAX_MARKS = 1 << 14;

export class RingBuffer {
  private readonly buf: Uint8Array;
  /** Total bytes ever written; the next write lands at written % capacity. */
  private written = 0;
  private waiters: (() => void)[] = [];
  /** Marks in position order; those before `head` are dropped (compacted now and then, not per write). */
  private marks: Mark[] = [];
  private head = 0;

  constructor(readonly capacity = 1 << 20) {
    this.buf = new Uint8Array(capacity);
  }

  get end(): number { return this.written; }
  get start(): number { return Math.max(0, this.written - this.capacity); }

  write(chunk: Uint8Array, stream = "", time = Date.now()): void {
    if (chunk.byteLength === 0) return;
    this.marks.push({ pos: this.written, time, stream });
    let data = chunk;
    if (data.byteLength > this.capacity) data = data.subarray(data.byteLength - this.capacity);
    // Bytes dropped from the front of an oversized chunk still count as written.
    const pos = (this.written + chunk.byteLength - data.byteLength) % this.capacity;
    const first = Math.min(data.byteLength, this.capacity - pos);
    this.buf.set(data.subarray(0, first), pos);
    if (first < data.byteLength) this.buf.set(data.subarray(first), 0);
    this.written += chunk.byteLength;
    // Drop marks of bytes no longer kept (the one covering the oldest kept byte stays).
    while (this.head + 1 < this.marks.length && this.marks[this.head + 1]!.pos <= this.start) this.head++;
    this.head = Math.max(this.head, this.marks.length - MAX_MARKS);
    if (this.head >= MAX_MARKS) {
      this.marks = this.marks.slice(this.head);
      this.head = 0;
    }
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** The bytes from absolute position `from` (clamped to what is kept) to the end. */
  read(from: number): { data: Uint8Array; next: number; skipped: number } {
    const start = Math.max(from, this.start);
    const len = this.written - start;
    const out = new Uint8Array(Math.max(0, len));
    if (len > 0) {
      const pos = start % this.capacity;
      const first = Math.min(len, this.capacity - pos);
      out.set(this.buf.subarray(pos, pos + first), 0);
      if (first < len) out.set(this.buf.subarray(0, len - first), first);
    }
    return { data: out, next: this.written, skipped: start - from };
  }

  /** The bytes from `from` (clamped to what is kept) to the end, cut where writes began, each with its time. */
  segments(from: number): { segments: Segment[]; next: number } {
    const { data, next } = this.read(from);
    const start = next - data.byteLength;
    const segments: Segment[] = [];
    // The last mark at or before `start` (binary search), then every mark inside the range.
    let i = this.head;
    for (let hi = this.marks.length - 1; i < hi;) {
      const mid = (i + hi + 1) >> 1;
      if (this.marks[mid]!.pos <= start) i = mid;
      else hi = mid - 1;
    }
    let pos = start;
    while (pos < next) {
      const m = this.marks[i];
      const end = Math.min(next, this.marks[i + 1]?.pos ?? next);
      // Bytes before the first kept mark (its mark was dropped) take that mark's time.
      segments.push({ data: data.subarray(pos - start, end - start), time: m?.time ?? Date.now(), stream: m?.stream ?? "" });
      pos = end;
      i++;
    }
    return { segments, next };
  }

  /** The position where the last `lines` lines start (a partial first line kept is dropped). */
  tailPosition(lines: number): number {
    if (lines <= 0) return this.written;
    const { data } = this.read(this.start);
    let i = data.byteLength;
    // A trailing newline ends the last line; it does not start an empty one.
    if (i > 0 && data[i - 1] === 10) i--;
    let found = 0;
    while (i > 0) {
      if (data[i - 1] === 10 && ++found === lines) break;
      i--;
    }
    if (i === 0 && this.start > 0 && found < lines) {
      // The first kept line may be cut; skip to after its newline.
      const nl = data.indexOf(10);
      if (nl >= 0 && nl < data.byteLength - 1) i = nl + 1;
    }
    return this.start + i;
  }

  /** The last `lines` lines as text. */
  tail(lines: number): string {
    return new TextDecoder().decode(this.read(this.tailPosition(lines)).data);
  }

  /** Resolves at the next write, or when the signal aborts. */
  wait(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => { signal?.removeEventListener("abort", done); resolve(); };
      this.waiters.push(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  /** Segments from `from` on, as they are written, until the signal aborts. */
  async *follow(from: number, signal: AbortSignal): AsyncGenerator<Segment> {
    let pos = from;
    while (!signal.aborted) {
      const { segments, next } = this.segments(pos);
      pos = next;
      if (segments.length > 0) yield* segments;
      else await this.wait(signal);
    }
  }

  /** Wakes every follower (they see no more data until the next write). */
  wakeAll(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
