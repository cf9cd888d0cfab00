/**
 * One etcd member of this control plane: its service, the join loop, bootstrap and recovery,
 * and the care of a running member (see services/init/etcd.ts for the whole story).
 * Over 400 lines on purpose: it is one class whose steps share one member's private state (the
 * pending join, the certificates, the members watch, whether it left); cut apart, each part
 * would need that state handed around.
 */
import { chmodSync, chownSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, rmSync, statSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { alarm, defragment, EtcdError, health, hexId, memberAdd, memberList, memberPromote, memberRemove, moveLeader, snapshot, status, type EtcdAlarm, type EtcdMember, type EtcdTls } from "../../../core/etcd/client.ts";
import type { ExtensionState } from "../rootfs/extensions.ts";
import { etcdctlBinary, fileSha256, restoreSnapshot, RestoreError } from "../../../core/etcd/restore.ts";
import { writeFileAtomic } from "../../../core/fileio/atomic.ts";
import { LIFETIME, needsRenewal, type CertAndKey } from "../../../core/pki/issue.ts";
import { Backoff } from "../../../core/time/backoff.ts";
import { nodeAddresses } from "../apicerts.ts";
import { spawnTracked } from "../children.ts";
import { sleep } from "../conditions.ts";
import type { EtcdMemberSpec, EtcdStatusSpec } from "../resources.ts";
import type { ServiceSpec } from "../service.ts";
import { clientTls, etcdCA, writeEtcdCerts } from "./certs.ts";
import { ETCD_BINARIES, ETCD_CLIENT_PORT, ETCD_PEER_PORT, etcdBinary, etcdConfigFile, EtcdRefusal, MAX_SNAPSHOT_BYTES, urlOf, type EtcdConfig } from "./config.ts";
import { initialCluster, joinCandidates, ownAddress } from "./join.ts";

/** A folder and everything in it handed to etcd's uid (a restore writes them as root). */
function chownTree(path: string, o: { uid: number; gid: number }): void {
  chownSync(path, o.uid, o.gid);
  if (!statSync(path).isDirectory()) return;
  for (const e of readdirSync(path)) chownTree(join(path, e), o);
}

export interface EtcdOptions {
  /** etcd's data (a node: /var/lib/etcd; container mode: under the state dir). */
  dataDir: string;
  /** Its certificates and config file (under init's run directory). */
  runDir: string;
  clientPort?: number;
  peerPort?: number;
  uid?: number;
  gid?: number;
  binary?: string;
  /**
   * The image's etcd extension (a node, not container mode): mounted when the config makes this
   * node a control plane, released when it makes it a worker.
   */
  extension?: { mount: () => ExtensionState; release: () => ExtensionState };
  current: () => { config: EtcdConfig | undefined; hostname: string };
  addresses?: () => string[];
  /** Starts (or restarts) the etcd service now. */
  start: () => Promise<void>;
  /** Stops the etcd service (it stays stopped: leave). */
  stop: () => Promise<void>;
  /** Whether the etcd service's process runs. */
  running: () => boolean;
  onStatus: (s: EtcdStatusSpec) => void;
  onEvent: (message: string) => void;
  onMembers?: (members: EtcdMemberSpec[]) => void;
  onError?: (err: unknown) => void;
  /** Join retries: first delay and cap (defaults 2 s, 30 s). */
  retryMs?: number;
  retryMaxMs?: number;
  /** How often the members are read while etcd runs (default 10 s). */
  membersEveryMs?: number;
}

type Pending = { state: "new" | "existing"; initialCluster: string };

export class EtcdNode {
  private pending: Pending | undefined;
  private loop: AbortController | undefined;
  private last: EtcdStatusSpec = { phase: "skipped", message: "not configured yet" };
  private tlsCache: { key: string; tls: EtcdTls; at: number } | undefined;
  private certs: CertAndKey | undefined;
  private membersTimer: ReturnType<typeof setInterval> | undefined;
  private stopped = false;
  /** Left the cluster: no joining again until init starts again. */
  private left = false;
  readonly clientPort: number;
  readonly peerPort: number;

  constructor(private readonly o: EtcdOptions) {
    this.clientPort = o.clientPort ?? ETCD_CLIENT_PORT;
    this.peerPort = o.peerPort ?? ETCD_PEER_PORT;
  }

  private get binary(): string | undefined { return this.o.binary ?? etcdBinary(); }
  // Apart from the data: in container mode the run and state folders are one.
  private get certDir(): string { return join(this.o.runDir, "etcd-tls"); }
  private get configPath(): string { return join(this.certDir, "etcd.conf.json"); }
  private addresses(): string[] { return (this.o.addresses ?? nodeAddresses)(); }
  private owner(): { uid: number; gid: number } | undefined { return this.o.uid === undefined ? undefined : { uid: this.o.uid, gid: this.o.gid ?? this.o.uid }; }

  /** Whether the data folder holds a member (etcd's own layout: member/ under it). */
  hasData(): boolean { return existsSync(join(this.o.dataDir, "member")); }

  /** Why this node runs no etcd at all (worker, no binary), or undefined. */
  notHere(): string | undefined {
    const { config } = this.o.current();
    const ca = etcdCA(config);
    if (typeof ca === "string") {
      if (config && this.o.extension) this.extensionSays("release");
      return ca;
    }
    if (this.o.extension) {
      const r = this.extensionSays("mount");
      if (r.state !== "mounted") return r.message;
    }
    if (!this.binary) return `no etcd binary (looked for ${ETCD_BINARIES.join(", ")}): install Debian's etcd-server`;
    return undefined;
  }

  private extensionLast: { action: "mount" | "release"; r: ExtensionState } | undefined;
  /**
   * Mounts or releases the extension once per action and says so in the events; notHere() runs
   * on every look at the service, and what the action came to holds until the next boot (mounted
   * stays mounted, released or absent stays so), so the kernel is not asked again.
   */
  private extensionSays(action: "mount" | "release"): ExtensionState {
    if (this.extensionLast?.action === action) return this.extensionLast.r;
    let r: ExtensionState;
    try { r = this.o.extension![action](); } catch (err) { r = { state: "absent", message: err instanceof Error ? err.message : String(err) }; }
    if (r.message !== this.extensionLast?.r.message) this.o.onEvent(r.message);
    this.extensionLast = { action, r };
    return r;
  }

  private self() {
    const { config, hostname } = this.o.current();
    const address = ownAddress(config, this.addresses());
    return { config, hostname, address, clientURL: urlOf(address, this.clientPort), peerURL: urlOf(address, this.peerPort) };
  }

  /** init's client credentials (made again when the CA or hostname changes, or at half their life). */
  tls(): EtcdTls {
    const { config, hostname } = this.o.current();
    const ca = etcdCA(config);
    if (typeof ca === "string") throw new EtcdRefusal(ca);
    const key = `${config?.cluster?.etcd?.ca?.crt}|${hostname}`;
    if (!this.tlsCache || this.tlsCache.key !== key || Date.now() - this.tlsCache.at > LIFETIME.node / 2) {
      this.tlsCache = { key, tls: clientTls(ca, hostname), at: Date.now() };
    }
    return this.tlsCache.tls;
  }

  private status(s: EtcdStatusSpec): void {
    // An event per change of phase or of reason, not per retry (the delay changes each time).
    const reason = (x: EtcdStatusSpec) => x.unmet?.replace(/; next attempt in \d+ s$/, "");
    const changed = s.phase !== this.last.phase || reason(s) !== reason(this.last);
    this.last = s;
    this.o.onStatus(s);
    if (changed) this.o.onEvent(s.unmet ? `${s.phase}: ${s.unmet}` : `${s.phase}: ${s.message}`);
  }

  current(): EtcdStatusSpec { return this.last; }

  service(): ServiceSpec {
    const owner = () => this.owner();
    return {
      id: "etcd", description: "the control plane's replicated store (etcd, mutual TLS from the etcd CA)",
      skip: () => {
        const no = this.notHere();
        if (no) return no;
        if (this.left) return "left the etcd cluster (bunkerctl etcd leave): it joins again once init starts again";
        if (!this.hasData() && !this.pending) return "not a member yet: waiting for `bunkerctl bootstrap` on one control plane, or to join a running member (EtcdStatus says which)";
        return undefined;
      },
      preStart: () => {
        const { config, hostname, address } = this.self();
        const ca = etcdCA(config);
        if (typeof ca === "string") throw new Error(ca);
        // The folders above it (/var/lib on a node) stay open to etcd's uid; only its own is closed.
        mkdirSync(dirname(this.o.dataDir), { recursive: true, mode: 0o755 });
        mkdirSync(this.o.dataDir, { recursive: true, mode: 0o700 });
        chmodSync(this.o.dataDir, 0o700);
        const o = owner();
        if (o) chownSync(this.o.dataDir, o.uid, o.gid);
        this.certs = writeEtcdCerts(this.certDir, ca, { hostname, addresses: [...new Set([address, ...this.addresses()])], owner: o });
        // With data in place etcd ignores the initial-cluster settings: they matter once only.
        const p = this.pending ?? { state: "existing" as const, initialCluster: `${hostname}=${urlOf(address, this.peerPort)}` };
        writeFileAtomic(this.configPath, etcdConfigFile({
          name: hostname, dataDir: this.o.dataDir, certDir: this.certDir, address, clientPort: this.clientPort, peerPort: this.peerPort,
          state: p.state, initialCluster: p.initialCluster,
        }), { mode: 0o400, overwrite: true, owner: o });
      },
      runner: {
        argv: [this.binary ?? ETCD_BINARIES[0]!, "--config-file", this.configPath],
        argv0: "etcd", noNewPrivs: true,
        ...(this.o.uid !== undefined ? { uid: this.o.uid, gid: this.o.gid ?? this.o.uid, capabilities: [] } : {}),
      },
      health: {
        initialDelayMs: 1000, intervalMs: 5000, timeoutMs: 4000,
        check: async () => {
          const url = this.self().clientURL;
          try {
            await health(url, this.tls(), 4000);
          } catch (err) {
            // etcd 3.4 answers a bare {"health":"false"} while an alarm is raised: name the alarm.
            const raised = await alarm(url, this.tls(), "get", undefined, 3000).catch(() => [] as EtcdAlarm[]);
            if (!raised.length) throw err;
            throw new EtcdError(url, `unhealthy: alarm ${raised.map((x) => `${x.alarm} on member ${hexId(x.memberId)}`).join(", ")} (bunkerctl etcd alarm list; disarm once the cause is dealt with)`);
          }
        },
      },
      stopGraceMs: 15_000,
    };
  }

  /** Certificates at half their life: written again (etcd reads them per connection). */
  renewIfDue(): void {
    if (!this.certs || !needsRenewal(this.certs.certificate) || !this.o.running()) return;
    const { config, hostname, address } = this.self();
    const ca = etcdCA(config);
    if (typeof ca === "string") return;
    this.certs = writeEtcdCerts(this.certDir, ca, { hostname, addresses: [...new Set([address, ...this.addresses()])], owner: this.owner() });
  }

  /**
   * The config is there or changed: a control plane with data starts etcd as it is (and promotes
   * itself if it was left a learner); one without joins a running member, retrying until it can.
   */
  configure(): void {
    if (this.stopped || this.left) return;
    const no = this.notHere();
    if (no) { this.status({ phase: "skipped", message: no }); return; }
    this.startMembersWatch();
    if (this.loop) return;
    if (this.hasData() && !this.o.running()) this.o.start().catch((err) => this.o.onError?.(err));
    this.runLoop();
  }

  private runLoop(): void {
    const ac = new AbortController();
    this.loop = ac;
    const backoff = new Backoff(this.o.retryMs ?? 2000, this.o.retryMaxMs ?? 30_000);
    (async () => {
      while (!ac.signal.aborted) {
        let done = false;
        let quick = false;
        try {
          const r = await this.step();
          done = r === "done";
          quick = r === "progress";
        } catch (err) {
          if (ac.signal.aborted) return;
          const delay = backoff.fail();
          const why = err instanceof Error ? err.message : String(err);
          this.status({ ...this.last, phase: this.last.phase === "skipped" ? "waiting" : this.last.phase, unmet: `${why}; next attempt in ${Math.round(delay / 1000)} s`, message: why });
          await sleep(delay, ac.signal).catch(() => {});
          continue;
        }
        if (done) break;
        if (quick) backoff.reset();
        await sleep(quick ? 1000 : backoff.fail(), ac.signal).catch(() => {});
      }
    })().finally(() => { if (this.loop === ac) this.loop = undefined; });
  }

  /** The member list from the first endpoint that answers; which one, and what the others said. */
  private async anyMembers(endpoints: string[], timeoutMs = 3000): Promise<{ endpoint: string; members: EtcdMember[] } | { errors: string[] }> {
    const errors: string[] = [];
    const tls = this.tls();
    for (const e of endpoints) {
      try { return { endpoint: e, members: await memberList(e, tls, timeoutMs) }; } catch (err) { errors.push(err instanceof Error ? err.message : String(err)); }
    }
    return { errors };
  }

  /** One step of joining: "done" (a voting member), "progress" (moved on: next step soon) or "wait". */
  private async step(): Promise<"done" | "progress" | "wait"> {
    const s = this.self();
    const others = joinCandidates(s.config, this.addresses()).map((h) => urlOf(h, this.clientPort));
    const mineHere = this.hasData() || this.pending !== undefined;
    const found = await this.anyMembers(mineHere && this.o.running() ? [s.clientURL, ...others] : others);
    if ("errors" in found) {
      // Just bootstrapped: its own etcd is still starting (the service's health says if it never does).
      if (mineHere && this.pending?.state === "new" && this.last.phase === "bootstrapping") return "wait";
      if (mineHere) throw new Error(`no etcd member answers (${found.errors.join("; ")})`);
      this.status({
        phase: "waiting", clientURL: s.clientURL, peerURL: s.peerURL,
        message: others.length
          ? `no running etcd member to join (${found.errors.join("; ")}): bootstrap one control plane with bunkerctl bootstrap`
          : "no other control plane is known (cluster.controlPlane.nodes, the endpoint): bootstrap this node with bunkerctl bootstrap",
      });
      return "wait";
    }
    const { endpoint, members } = found;
    const mine = members.find((m) => m.peerURLs.includes(s.peerURL));
    if (mineHere) {
      if (!mine) {
        if (this.pending?.state === "new") return "wait"; // just bootstrapped: etcd is still starting
        throw new Error(`the cluster at ${endpoint} has no member with this node's peer URL ${s.peerURL}: it was removed; reset this node's etcd data (EPHEMERAL) to join again`);
      }
      if (!mine.isLearner) {
        this.status({ phase: "member", message: `member ${hexId(mine.id)} of ${members.length}`, memberId: hexId(mine.id), clientURL: s.clientURL, peerURL: s.peerURL });
        return "done";
      }
      try {
        await memberPromote(endpoint, mine.id, this.tls());
      } catch (err) {
        throw new Error(`learner ${hexId(mine.id)} not promoted yet through ${endpoint}: ${err instanceof EtcdError ? err.message.replace(/^etcd at \S+: /, "") : String(err)}`);
      }
      this.o.onEvent(`promoted from learner to voting member ${hexId(mine.id)}`);
      return "progress";
    }
    // Not a member here: ask to be added, as a learner (it gets no vote until it has caught up).
    let me = mine;
    if (me && me.name !== "") {
      // The cluster counts this node as a started member but its data is gone: that member is dead.
      await memberRemove(endpoint, me.id, this.tls());
      this.o.onEvent(`removed member ${hexId(me.id)} (this node's peer URL, its data gone) to join again`);
      me = undefined;
    }
    let all = members;
    const namesake = members.find((m) => m.name === s.hostname && !m.peerURLs.includes(s.peerURL));
    if (!me && namesake) {
      // Members are named by hostname: a second one would make etcd's initial cluster ambiguous.
      throw new Error(`member ${hexId(namesake.id)} at ${namesake.peerURLs.join(",")} already has this node's hostname ${s.hostname}: give each control plane its own hostname (machine.network.hostname)`);
    }
    if (!me) {
      this.status({ phase: "joining", message: `asking ${endpoint} to add this node (${s.peerURL}) as a learner`, unmet: `asking ${endpoint} to add this node as a learner`, clientURL: s.clientURL, peerURL: s.peerURL });
      try {
        const r = await memberAdd(endpoint, [s.peerURL], this.tls(), true);
        me = r.member;
        all = r.members.some((m) => m.id === me!.id) ? r.members : [...r.members, me];
      } catch (err) {
        throw new Error(`${endpoint} did not add this node: ${err instanceof EtcdError ? err.message.replace(/^etcd at \S+: /, "") : String(err)}`);
      }
      this.o.onEvent(`added as learner ${hexId(me.id)} through ${endpoint}`);
    }
    this.pending = { state: "existing", initialCluster: initialCluster(all, { id: me.id, name: s.hostname }) };
    this.status({ phase: "joining", memberId: hexId(me.id), message: `learner ${hexId(me.id)}: starting etcd with the existing cluster`, unmet: `learner ${hexId(me.id)}: catching up before promotion`, clientURL: s.clientURL, peerURL: s.peerURL });
    await this.o.start();
    return "progress";
  }

  /**
   * Starts a new cluster of this node alone: empty, or with `recover`, from the snapshot uploaded
   * with recoverUpload (its SHA-256 must be `sha256`), restored by etcdctl into the data folder.
   * Refused (EtcdRefusal, saying why) on a worker, without etcd, when this node has etcd data or
   * etcd runs here, and when another control plane already answers as a member (this node joins
   * that one by itself).
   */
  async bootstrap(o: { recover?: boolean; sha256?: string } = {}): Promise<string> {
    const what = o.recover ? "bootstrap from a snapshot" : "bootstrap";
    const no = this.notHere();
    if (no) throw new EtcdRefusal(`${what} refused: ${no}`);
    if (this.hasData()) throw new EtcdRefusal(`${what} refused: this node already has etcd data: it is or was a member (a reset wipes it)`);
    if (this.o.running() || this.pending) throw new EtcdRefusal(`${what} refused: etcd already runs (or is starting) on this node`);
    const etcdctl = o.recover ? etcdctlBinary() : undefined;
    if (o.recover) {
      if (!etcdctl) throw new EtcdRefusal(`${what} refused: no etcdctl here to restore with (install Debian's etcd-client)`);
      if (!existsSync(this.uploadPath)) throw new EtcdRefusal(`${what} refused: no snapshot was uploaded (EtcdRecoverUpload)`);
      if (!/^[0-9a-f]{64}$/i.test(o.sha256 ?? "")) throw new EtcdRefusal(`${what} refused: recover_sha256 must be the snapshot's SHA-256 in hex (64 digits)`);
      const got = await fileSha256(this.uploadPath);
      if (got !== o.sha256!.toLowerCase()) throw new EtcdRefusal(`${what} refused: the upload (${statSync(this.uploadPath).size} bytes) has SHA-256 ${got}, not ${o.sha256!.toLowerCase()}: upload it again`);
    }
    const s = this.self();
    const others = joinCandidates(s.config, this.addresses()).map((h) => urlOf(h, this.clientPort));
    const found = await this.anyMembers(others, 2000);
    if (!("errors" in found)) throw new EtcdRefusal(`${what} refused: an etcd cluster already runs at ${found.endpoint} (${found.members.length} members): ${o.recover ? "stop or reset its members first: two clusters would split the data" : "this node joins it by itself"}`);
    if (this.o.running() || this.pending || this.hasData()) throw new EtcdRefusal(`${what} refused: etcd already runs (or is starting) on this node`);
    this.loop?.abort();
    this.loop = undefined;
    let restored = "";
    if (o.recover) {
      // A restore writes member/ itself: the data folder (empty, or left by a start that never got a member) goes first.
      if (existsSync(this.o.dataDir) && readdirSync(this.o.dataDir).length === 0) rmSync(this.o.dataDir, { recursive: true });
      try {
        const info = await restoreSnapshot(etcdctl!, this.uploadPath, { dataDir: this.o.dataDir, name: s.hostname, peerURL: s.peerURL, token: "bunker", spawn: spawnTracked });
        restored = ` from a snapshot of ${info.totalKey} keys at revision ${info.revision}`;
      } catch (err) {
        throw err instanceof RestoreError ? new EtcdRefusal(`${what} refused: ${err.message}`) : err;
      }
      const owner = this.owner();
      if (owner) chownTree(this.o.dataDir, owner);
      rmSync(this.uploadPath, { force: true });
      this.o.onEvent(`restored etcd's data${restored}`);
    }
    this.pending = { state: "new", initialCluster: `${s.hostname}=${s.peerURL}` };
    this.status({ phase: "bootstrapping", message: `a new cluster of this node alone${restored} (${s.peerURL})`, clientURL: s.clientURL, peerURL: s.peerURL });
    await this.o.start();
    this.runLoop();
    return `bootstrapping a new etcd cluster on this node${restored} (client ${s.clientURL}, peer ${s.peerURL})`;
  }

  /** Where a snapshot to recover from is uploaded: beside the data folder, on the same volume (EPHEMERAL). */
  private get uploadPath(): string { return `${this.o.dataDir}.recover.db`; }

  /**
   * One piece of a snapshot to recover from, written at `offset` (0 starts a new upload; else it
   * must be the size so far: pieces come in order). Refused where a bootstrap would be.
   */
  recoverUpload(offset: number, data: Uint8Array): number {
    const no = this.notHere();
    if (no) throw new EtcdRefusal(`snapshot upload refused: ${no}`);
    if (this.hasData() || this.o.running()) throw new EtcdRefusal("snapshot upload refused: this node already has etcd data or runs etcd: recover onto a node without (a reset wipes it)");
    const size = offset === 0 ? 0 : existsSync(this.uploadPath) ? statSync(this.uploadPath).size : -1;
    if (size < 0) throw new EtcdRefusal(`snapshot upload refused: offset ${offset}, but no upload was started (start at offset 0)`);
    if (offset !== size) throw new EtcdRefusal(`snapshot upload refused: offset ${offset}, but the upload holds ${size} bytes (pieces come in order; start again at 0)`);
    if (size + data.length > MAX_SNAPSHOT_BYTES) throw new EtcdRefusal(`snapshot upload refused: larger than ${MAX_SNAPSHOT_BYTES} bytes (etcd's largest database)`);
    mkdirSync(dirname(this.o.dataDir), { recursive: true, mode: 0o755 });
    const fd = openSync(this.uploadPath, offset === 0 ? "w" : "a", 0o600);
    try {
      for (let done = 0; done < data.length;) done += writeSync(fd, data, done);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return size + data.length;
  }

  /** This node's member id (decimal) and the members, through its own etcd; refused when etcd does not run here. */
  private async selfAndMembers(what: string): Promise<{ me: EtcdMember | undefined; members: EtcdMember[]; url: string }> {
    const no = this.notHere();
    if (no) throw new EtcdRefusal(`${what} refused: ${no}`);
    if (!this.o.running()) throw new EtcdRefusal(`${what} refused: etcd does not run on this node`);
    const s = this.self();
    const members = await memberList(s.clientURL, this.tls());
    return { me: members.find((m) => m.peerURLs.includes(s.peerURL)), members, url: s.clientURL };
  }

  /** Removes another member (hex id, as etcdctl prints it), e.g. of a node that is gone. */
  async removeMember(hex: string): Promise<string> {
    if (!/^[0-9a-f]{1,16}$/i.test(hex)) throw new EtcdRefusal(`remove-member refused: member id ${JSON.stringify(hex)} is not a hex id (see bunkerctl etcd members)`);
    const id = BigInt(`0x${hex}`).toString();
    const { me, members, url } = await this.selfAndMembers("remove-member");
    const target = members.find((m) => m.id === id);
    if (!target) throw new EtcdRefusal(`remove-member refused: no member ${hex.toLowerCase()} (members: ${members.map((m) => `${hexId(m.id)} ${m.name || "(not started)"}`).join(", ")})`);
    if (me?.id === id) throw new EtcdRefusal("remove-member refused: that is this node's own member; use bunkerctl etcd leave on it");
    await memberRemove(url, id, this.tls());
    this.o.onEvent(`removed member ${hexId(id)} (${target.name || target.peerURLs.join(",")})`);
    return `removed member ${hexId(id)} (${target.name || target.peerURLs.join(",")}); ${members.length - 1} left`;
  }

  /**
   * This node leaves: removed as a member through another member, then its etcd stopped and its
   * data wiped. It does not join again by itself until init starts again (a reboot, or a reset).
   */
  async leave(): Promise<string> {
    const { me, members } = await this.selfAndMembers("leave");
    if (!me) throw new EtcdRefusal("leave refused: this node is not among the members its etcd lists");
    if (members.length === 1) throw new EtcdRefusal("leave refused: this node is the only member: leaving would end the cluster's data");
    const s = this.self();
    const others = members.filter((m) => m.id !== me.id && m.name !== "").flatMap((m) => m.clientURLs);
    let removed = false;
    let errors: string[] = [];
    // etcd refuses a removal ("unhealthy cluster") until the members left would have been
    // connected for a few seconds, e.g. just after one came back: that passes, so try again.
    for (let attempt = 0; !removed && attempt < 15; attempt++) {
      if (attempt) await new Promise((r) => setTimeout(r, 2000));
      errors = [];
      for (const u of others) {
        try { await memberRemove(u, me.id, this.tls()); removed = true; break; } catch (err) { errors.push(err instanceof Error ? err.message : String(err)); }
      }
      if (!errors.some((e) => e.includes("unhealthy cluster"))) break;
    }
    if (!removed) throw new EtcdError(s.clientURL, `no other member removed this node: ${errors.join("; ")}`);
    this.left = true;
    this.loop?.abort();
    this.loop = undefined;
    this.pending = undefined;
    await this.o.stop();
    rmSync(this.o.dataDir, { recursive: true, force: true });
    // Started again only to be Skipped with the reason: a stopped service would count as down.
    await this.o.start();
    this.status({ phase: "skipped", message: `left the cluster (was member ${hexId(me.id)}); it joins again once init starts again` });
    return `left the etcd cluster (member ${hexId(me.id)} removed, etcd stopped, its data wiped)`;
  }

  /**
   * This node's member hands the leadership to another started voting member (the one with the
   * highest raft index: the least to catch up), if it leads; a node that does not lead has
   * nothing to hand over, and says so.
   */
  async forfeitLeadership(): Promise<{ message: string; leader: string }> {
    const { me, members, url } = await this.selfAndMembers("forfeit-leadership");
    if (!me) throw new EtcdRefusal("forfeit-leadership refused: this node is not among the members its etcd lists");
    const tls = this.tls();
    const st = await status(url, tls);
    if (st.leader !== me.id) return { message: `not the leader (member ${hexId(st.leader)} is): nothing to forfeit`, leader: "" };
    const voters = members.filter((m) => m.id !== me.id && !m.isLearner && m.name !== "");
    const ranked = (await Promise.all(voters.map(async (m) => {
      try { return { m, index: BigInt((await status(m.clientURLs[0]!, tls, 3000)).raftIndex) }; } catch { return undefined; }
    }))).filter((x) => x !== undefined).sort((a, b) => (b.index > a.index ? 1 : b.index < a.index ? -1 : 0));
    const to = ranked[0]?.m;
    if (!to) throw new EtcdRefusal("forfeit-leadership refused: no other started voting member answers to take the leadership");
    await moveLeader(url, to.id, tls);
    this.o.onEvent(`leadership handed to member ${hexId(to.id)} (${to.name})`);
    return { message: `leadership moved from ${hexId(me.id)} to ${hexId(to.id)} (${to.name})`, leader: hexId(to.id) };
  }

  /** Defragments this node's etcd database (its member answers nothing meanwhile). */
  async defragment(): Promise<string> {
    const { url } = await this.selfAndMembers("defrag");
    const tls = this.tls();
    const before = (await status(url, tls)).dbSize;
    await defragment(url, tls);
    const after = (await status(url, tls)).dbSize;
    this.o.onEvent(`defragmented: database ${before} -> ${after} bytes`);
    return `defragmented: database ${before} -> ${after} bytes`;
  }

  /** The cluster's alarms as this node's etcd reports them (member ids in hex). */
  async alarms(): Promise<EtcdAlarm[]> {
    const { url } = await this.selfAndMembers("alarm list");
    return (await alarm(url, this.tls())).map((a) => ({ ...a, memberId: hexId(a.memberId) }));
  }

  /** Clears every alarm of the cluster; the alarms cleared. */
  async disarm(): Promise<EtcdAlarm[]> {
    const { url } = await this.selfAndMembers("alarm disarm");
    const tls = this.tls();
    const raised = await alarm(url, tls);
    for (const a of raised) await alarm(url, tls, "deactivate", a);
    if (raised.length) this.o.onEvent(`alarms disarmed: ${raised.map((a) => `${a.alarm} on ${hexId(a.memberId)}`).join(", ")}`);
    return raised.map((a) => ({ ...a, memberId: hexId(a.memberId) }));
  }

  /**
   * Reset's first step on a control plane: leave the cluster, so that the others do not count a
   * wiped member towards their quorum. Nothing to do where etcd does not run or this node is the
   * only member; a leave that fails stops the reset (the operator chooses --graceful=false).
   */
  async leaveForReset(): Promise<string> {
    if (this.notHere() || !this.o.running()) return "etcd does not run here: nothing to leave";
    const { me, members } = await this.selfAndMembers("leave");
    if (!me) return "not a member: nothing to leave";
    if (members.length === 1) return "the only member: nothing to leave (its data goes with the reset)";
    try {
      return await this.leave();
    } catch (err) {
      throw new EtcdError(this.self().clientURL, `leaving etcd before the reset failed (${err instanceof Error ? err.message : String(err)}); reset with --graceful=false to skip leaving`);
    }
  }

  /** A snapshot of this node's etcd database, as etcd streams it. */
  async *snapshot(signal?: AbortSignal): AsyncGenerator<Uint8Array> {
    const no = this.notHere();
    if (no) throw new EtcdRefusal(`snapshot refused: ${no}`);
    if (!this.o.running()) throw new EtcdRefusal("snapshot refused: etcd does not run on this node");
    yield* snapshot(this.self().clientURL, this.tls(), signal);
  }

  private startMembersWatch(): void {
    if (this.membersTimer || !this.o.onMembers) return;
    this.membersTimer = setInterval(() => {
      this.renewIfDue();
      if (!this.o.running()) return;
      this.readMembers().then((m) => this.o.onMembers?.(m), () => { /* the health check reports an etcd that does not answer */ });
    }, this.o.membersEveryMs ?? 10_000);
    this.membersTimer.unref?.();
  }

  /** The members, each with its own status where it answers (leader, raft index, db size). */
  async readMembers(): Promise<EtcdMemberSpec[]> {
    const tls = this.tls();
    const members = await memberList(this.self().clientURL, tls);
    const statuses = await Promise.all(members.map(async (m) => {
      const url = m.clientURLs[0];
      if (!url || m.isLearner && !m.name) return { error: "not started" };
      try { return await status(url, tls, 3000); } catch (err) { return { error: err instanceof Error ? err.message : String(err) }; }
    }));
    const leader = statuses.find((x) => "leader" in x && x.leader !== "0") as { leader: string } | undefined;
    // The alarms are the cluster's: one member's answer holds every member's.
    const alarms = await alarm(this.self().clientURL, tls).catch(() => [] as EtcdAlarm[]);
    return members.map((m, i) => {
      const st = statuses[i]!;
      const ok = "leader" in st ? st : undefined;
      return {
        id: hexId(m.id), name: m.name, peerURLs: m.peerURLs, clientURLs: m.clientURLs, learner: m.isLearner, started: m.name !== "",
        leader: leader?.leader === m.id, raftIndex: ok?.raftIndex ?? "", raftTerm: ok?.raftTerm ?? "", dbSize: ok?.dbSize ?? 0, version: ok?.version ?? "",
        alarms: alarms.filter((a) => a.memberId === m.id).map((a) => a.alarm),
        ...(ok ? {} : { error: (st as { error: string }).error }),
      };
    });
  }

  stop(): void {
    this.stopped = true;
    this.loop?.abort();
    clearInterval(this.membersTimer);
  }
}

