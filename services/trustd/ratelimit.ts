/**
 * Token buckets per peer address: each refused request takes a token, and a peer with none left
 * is refused before its token is even looked at, so guessing the join token from one address runs
 * at the refill rate. Good requests take nothing: a node that holds the token is not slowed.
 * The table is bounded; when full, the peer whose bucket is fullest (the least suspect) goes.
 */
export interface BucketOptions {
  /** Refusals a peer may have in a burst. */
  capacity: number;
  /** Tokens regained per second. */
  refillPerSecond: number;
  /** Peers remembered at most. */
  maxPeers?: number;
  now?: () => number;
}

export class PeerBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(private readonly o: BucketOptions) {}

  private now(): number { return this.o.now?.() ?? Date.now(); }

  private level(peer: string): number {
    const b = this.buckets.get(peer);
    if (!b) return this.o.capacity;
    const t = this.now();
    b.tokens = Math.min(this.o.capacity, b.tokens + ((t - b.at) / 1000) * this.o.refillPerSecond);
    b.at = t;
    return b.tokens;
  }

  /** True when the peer has at least one token left (it may be heard). */
  allowed(peer: string): boolean {
    return this.level(peer) >= 1;
  }

  /** Seconds until the peer may be heard again (0 when it may now). */
  retryAfter(peer: string): number {
    const l = this.level(peer);
    return l >= 1 ? 0 : Math.ceil((1 - l) / this.o.refillPerSecond);
  }

  /** A refusal: takes one token. */
  take(peer: string): void {
    const tokens = this.level(peer);
    if (!this.buckets.has(peer) && this.buckets.size >= (this.o.maxPeers ?? 4096)) this.evict();
    this.buckets.set(peer, { tokens: Math.max(0, tokens - 1), at: this.now() });
  }

  get size(): number { return this.buckets.size; }

  private evict(): void {
    let worst: string | undefined;
    let most = -1;
    for (const [peer] of this.buckets) {
      const l = this.level(peer);
      if (l > most) { most = l; worst = peer; }
    }
    if (worst !== undefined) this.buckets.delete(worst);
  }
}
