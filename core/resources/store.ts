/**
 * An in-memory, namespaced, versioned store of resources with watches. Writers name themselves
 * (the owner); a resource written by one owner can only be changed by the same owner, so two
 * controllers never fight over one output. Every value that goes in or comes out is a deep copy:
 * a caller that mutates what it got cannot change the store behind its back.
 *
 * Watch events are delivered in one global order through a queue: a watcher that writes from its
 * callback does not make other watchers see events out of order.
 */
import {
  AlreadyExistsError, ConflictError, NotFoundError, OwnerError,
  type Kind, type Metadata, type Ref, type Resource, type WatchEvent,
} from "./resource.ts";

export interface WriteOptions {
  /** Who writes: a controller name, or "" (the default) for config and API writes. */
  owner?: string;
  labels?: Record<string, string>;
}

export interface UpdateOptions extends WriteOptions {
  /** When set, the update fails with ConflictError unless the current version is this one. */
  expectedVersion?: number;
}

export type WatchCallback = (event: WatchEvent) => void;

export interface WatchOptions {
  /** Only this id of the kind. */
  id?: string;
  /** Skip the initial snapshot and the Bootstrapped marker. */
  tailOnly?: boolean;
}

interface Watcher {
  kind: Kind;
  id?: string;
  cb: WatchCallback;
  closed: boolean;
}

export interface StoreOptions {
  /** Where an exception thrown by a watch callback goes (the store itself never logs). */
  onWatcherError?: (err: unknown) => void;
  /** The clock, for tests. */
  now?: () => Date;
}

const kindKey = (k: Kind) => `${k.namespace}\0${k.type}`;

export class Store {
  private readonly kinds = new Map<string, Map<string, Resource>>();
  private readonly watchers = new Map<string, Set<Watcher>>();
  private readonly queue: { w: Watcher; ev: WatchEvent }[] = [];
  private draining = false;

  constructor(private readonly opts: StoreOptions = {}) {}

  private now(): string {
    return (this.opts.now?.() ?? new Date()).toISOString();
  }

  get<Spec = unknown>(ref: Ref): Resource<Spec> | undefined {
    const r = this.kinds.get(kindKey(ref))?.get(ref.id);
    return r ? (structuredClone(r) as Resource<Spec>) : undefined;
  }

  /** Like get, but throws NotFoundError. */
  mustGet<Spec = unknown>(ref: Ref): Resource<Spec> {
    const r = this.get<Spec>(ref);
    if (!r) throw new NotFoundError(ref);
    return r;
  }

  /** Every resource of a kind, sorted by id; optionally only those carrying all given labels. */
  list<Spec = unknown>(kind: Kind, labels?: Record<string, string>): Resource<Spec>[] {
    const m = this.kinds.get(kindKey(kind));
    if (!m) return [];
    const out: Resource<Spec>[] = [];
    for (const r of m.values()) {
      if (labels && !Object.entries(labels).every(([k, v]) => r.metadata.labels[k] === v)) continue;
      out.push(structuredClone(r) as Resource<Spec>);
    }
    return out.sort((a, b) => (a.metadata.id < b.metadata.id ? -1 : a.metadata.id > b.metadata.id ? 1 : 0));
  }

  /** Every namespace/type pair that holds at least one resource. */
  kindsPresent(): Kind[] {
    const out: Kind[] = [];
    for (const [key, m] of this.kinds) {
      if (m.size === 0) continue;
      const [namespace, type] = key.split("\0") as [string, string];
      out.push({ namespace, type });
    }
    return out;
  }

  create<Spec>(ref: Ref, spec: Spec, opts: WriteOptions = {}): Resource<Spec> {
    const key = kindKey(ref);
    let m = this.kinds.get(key);
    if (m?.has(ref.id)) throw new AlreadyExistsError(ref);
    if (!m) this.kinds.set(key, (m = new Map()));
    const now = this.now();
    const metadata: Metadata = {
      namespace: ref.namespace, type: ref.type, id: ref.id, version: 1, phase: "running",
      labels: { ...(opts.labels ?? {}) }, created: now, updated: now, owner: opts.owner ?? "",
    };
    const r: Resource = { metadata, spec: structuredClone(spec) };
    m.set(ref.id, r);
    this.emit(ref, { type: "Created", resource: r });
    return structuredClone(r) as Resource<Spec>;
  }

  update<Spec>(ref: Ref, spec: Spec, opts: UpdateOptions = {}): Resource<Spec> {
    const cur = this.kinds.get(kindKey(ref))?.get(ref.id);
    if (!cur) throw new NotFoundError(ref);
    const owner = opts.owner ?? "";
    if (cur.metadata.owner !== owner) throw new OwnerError(ref, cur.metadata.owner, owner);
    if (opts.expectedVersion !== undefined && opts.expectedVersion !== cur.metadata.version) {
      throw new ConflictError(ref, opts.expectedVersion, cur.metadata.version);
    }
    const next: Resource = {
      metadata: {
        ...cur.metadata,
        labels: opts.labels ? { ...opts.labels } : cur.metadata.labels,
        version: cur.metadata.version + 1,
        updated: this.now(),
      },
      spec: structuredClone(spec),
    };
    this.kinds.get(kindKey(ref))!.set(ref.id, next);
    this.emit(ref, { type: "Updated", resource: next, old: cur });
    return structuredClone(next) as Resource<Spec>;
  }

  /**
   * Creates the resource or updates it with the spec `fn` derives from the current one. An update
   * whose spec is deep-equal to the current one writes nothing (no version bump, no event), so
   * controllers that re-run do not wake their dependants for nothing.
   */
  modify<Spec>(ref: Ref, fn: (current: Spec | undefined) => Spec, opts: WriteOptions = {}): Resource<Spec> {
    const cur = this.get<Spec>(ref);
    const spec = fn(cur?.spec);
    if (!cur) return this.create(ref, spec, opts);
    if (Bun.deepEquals(cur.spec, spec) && (!opts.labels || Bun.deepEquals(cur.metadata.labels, opts.labels))) {
      const owner = opts.owner ?? "";
      if (cur.metadata.owner !== owner) throw new OwnerError(ref, cur.metadata.owner, owner);
      return cur;
    }
    return this.update(ref, spec, { ...opts, expectedVersion: cur.metadata.version });
  }

  destroy(ref: Ref, opts: WriteOptions = {}): void {
    const m = this.kinds.get(kindKey(ref));
    const cur = m?.get(ref.id);
    if (!m || !cur) throw new NotFoundError(ref);
    const owner = opts.owner ?? "";
    if (cur.metadata.owner !== owner) throw new OwnerError(ref, cur.metadata.owner, owner);
    m.delete(ref.id);
    this.emit(ref, { type: "Destroyed", resource: cur });
  }

  /**
   * Calls `cb` with Created for every current resource of the kind (the snapshot), then
   * Bootstrapped, then every change as it happens. Returns the function that stops the watch.
   */
  watch(kind: Kind, cb: WatchCallback, opts: WatchOptions = {}): () => void {
    const w: Watcher = { kind: { namespace: kind.namespace, type: kind.type }, id: opts.id, cb, closed: false };
    const key = kindKey(kind);
    if (!opts.tailOnly) {
      const snapshot = opts.id !== undefined
        ? [this.kinds.get(key)?.get(opts.id)].filter((r): r is Resource => r !== undefined)
        : this.list(kind);
      for (const r of snapshot) this.queue.push({ w, ev: { type: "Created", resource: r } });
      this.queue.push({ w, ev: { type: "Bootstrapped" } });
    }
    let set = this.watchers.get(key);
    if (!set) this.watchers.set(key, (set = new Set()));
    set.add(w);
    this.drain();
    return () => {
      w.closed = true;
      set!.delete(w);
    };
  }

  /** The same stream as watch(), as an async iterable that ends when `signal` aborts. */
  async *watchIter(kind: Kind, opts: WatchOptions & { signal?: AbortSignal } = {}): AsyncGenerator<WatchEvent> {
    const pending: WatchEvent[] = [];
    let wake: (() => void) | undefined;
    const stop = this.watch(kind, (ev) => { pending.push(ev); wake?.(); }, opts);
    const onAbort = () => wake?.();
    opts.signal?.addEventListener("abort", onAbort);
    try {
      while (!opts.signal?.aborted) {
        const ev = pending.shift();
        if (ev) { yield ev; continue; }
        await new Promise<void>((resolve) => { wake = resolve; });
        wake = undefined;
      }
    } finally {
      stop();
      opts.signal?.removeEventListener("abort", onAbort);
    }
  }

  private emit(ref: Ref, ev: WatchEvent): void {
    const set = this.watchers.get(kindKey(ref));
    if (set) {
      for (const w of set) {
        if (w.id !== undefined && w.id !== ref.id) continue;
        this.queue.push({ w, ev: structuredClone(ev) });
      }
    }
    this.drain();
  }

  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      for (let item = this.queue.shift(); item; item = this.queue.shift()) {
        if (item.w.closed) continue;
        try {
          item.w.cb(item.ev);
        } catch (err) {
          this.opts.onWatcherError?.(err);
        }
      }
    } finally {
      this.draining = false;
    }
  }
}
