/**
 * apid's connections to other members' apid, for relayed calls: one per member address, opened
 * on first use, closed when idle (no call under way for `idleMs`) and, beyond `max`, the least
 * recently used one is closed first. Closing is graceful (HTTP/2 GOAWAY): calls under way on it
 * finish. Keys are canonical member addresses (core/api/members.ts), never raw caller input.
 */
import type { GrpcClient } from "../../core/grpc/client.ts";

export interface PeerPoolOptions {
  /** Close a connection after this long without a call (default 60 s). */
  idleMs?: number;
  /** Most connections kept open (default 32). */
  max?: number;
  now?: () => number;
}

interface Peer {
  client: GrpcClient;
  lastUsed: number;
  active: number;
}

export class PeerPool {
  /** In use order: the first entry is the least recently used. */
  private readonly peers = new Map<string, Peer>();
  private readonly idleMs: number;
  private readonly max: number;
  private readonly now: () => number;
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(private readonly dial: (address: string) => GrpcClient, o: PeerPoolOptions = {}) {
    this.idleMs = o.idleMs ?? 60_000;
    this.max = Math.max(1, o.max ?? 32);
    this.now = o.now ?? Date.now;
    this.timer = setInterval(() => this.sweep(), Math.max(50, Math.min(this.idleMs / 2, 30_000)));
    this.timer.unref?.();
  }

  /** The connection to `address` for one call; `release()` when the call is over. */
  acquire(address: string): { client: GrpcClient; release: () => void } {
    let p = this.peers.get(address);
    if (p) this.peers.delete(address); // re-inserted below: now the most recently used
    else {
      while (this.peers.size >= this.max) this.evictOne();
      p = { client: this.dial(address), lastUsed: this.now(), active: 0 };
    }
    this.peers.set(address, p);
    p.active++;
    const peer = p;
    let released = false;
    return {
      client: p.client,
      release: () => {
        if (released) return;
        released = true;
        peer.active--;
        peer.lastUsed = this.now();
      },
    };
  }

  /** Open connections (for logs and tests). */
  get size(): number {
    return this.peers.size;
  }

  /** Closes connections that are idle past the timeout. */
  sweep(): void {
    const now = this.now();
    for (const [address, p] of this.peers) if (p.active === 0 && now - p.lastUsed >= this.idleMs) this.drop(address);
  }

  /** Closes connections to addresses not in `keep` (members that left the list). */
  retain(keep: ReadonlySet<string>): void {
    for (const address of this.peers.keys()) if (!keep.has(address)) this.drop(address);
  }

  /** Closes every connection (new credentials; shutdown). */
  clear(): void {
    for (const address of [...this.peers.keys()]) this.drop(address);
  }

  /** Stops the sweep and closes everything. */
  close(): void {
    clearInterval(this.timer);
    this.clear();
  }

  /** The least recently used idle connection, else the least recently used one (its calls finish). */
  private evictOne(): void {
    let victim: string | undefined;
    for (const [address, p] of this.peers) if (p.active === 0) { victim = address; break; }
    this.drop(victim ?? this.peers.keys().next().value!);
  }

  private drop(address: string): void {
    const p = this.peers.get(address);
    this.peers.delete(address);
    p?.client.close();
  }
}
