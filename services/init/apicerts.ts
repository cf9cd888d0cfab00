/**
 * The certificates apid serves and relays with, made by init (apid has no key material of its
 * own and cannot reach the CA key):
 * - controlplane: a server certificate (serverAuth; SANs: machine.certSANs, the node's
 *   addresses, its hostname, 127.0.0.1, ::1, localhost) and a node client certificate (clientAuth,
 *   O=os:impersonator, for relaying to other nodes), both signed by machine.ca, 24 h by default;
 * - worker (no CA key here): a key of its own and a certificate trustd signs (serverAuth +
 *   clientAuth, no role; joincert.ts), asked for at once and again at half its life, from the
 *   cluster endpoint's control planes. Until the first answer, and whenever trustd cannot be
 *   reached, apid serves what it has (a self-signed certificate at first, later the last one
 *   signed) and the status says which control plane failed and why (onStatus: MachineStatus
 *   shows it). Client certificates are checked against machine.ca; it does not relay;
 * - maintenance (no config): a self-signed server certificate only.
 * Files go under one folder, written atomically, mode 0600, owned by apid's uid. They are
 * renewed at half their lifetime, after which `onRenewed` tells apid (SIGHUP) to reload, and
 * re-issued by init when the node's addresses change (a DHCP lease arriving after apid started:
 * without it the server certificate would not name the address clients dial until renewal).
 */
import { chownSync, mkdirSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { IMPERSONATOR } from "../../core/api/roles.ts";
import { fromPemPair, issueLeaf, LIFETIME, NOT_BEFORE_SKEW, splitSans, type CertAndKey } from "../../core/pki/issue.ts";
import { generateKey, privateKeyPem } from "../../core/pki/keys.ts";
import { buildCertificate, certificatePem } from "../../core/pki/x509.ts";
import { certificateFingerprint } from "../../core/pki/fingerprint.ts";
import { writeAtomic } from "../../core/fileio/atomic.ts";
import { JoinError, registerNode, requestNodeCertificate, TRUSTD_PORT, trustdTargets } from "./joincert.ts";

/** How often a worker shows its certificate to every control plane (SecurityService.Register). */
export const REGISTER_EVERY_MS = 60_000;
import type { ApiCertStatusSpec } from "./resources.ts";
import { Backoff, doublingDelay } from "../../core/time/backoff.ts";
import { backgroundClock, type Cancel, type Clock } from "../../core/time/clock.ts";

export interface ApiCertsOptions {
  dir: string;
  /** Owner of the files (apid's); unset: the current user. */
  uid?: number;
  gid?: number;
  /** Lifetime of the node certificates (default 24 h). Tests shorten it to watch renewals. */
  lifetimeMs?: number;
  /** Called after a renewal has been written (init sends apid SIGHUP). */
  onRenewed?: () => void;
  /**
   * Called after every issue with the mode and the SHA-256 of the server certificate written
   * (init logs it in maintenance mode, where no CA vouches for the certificate).
   */
  onIssued?: (mode: ApidMode, fingerprint: Buffer) => void;
  onError?: (err: unknown) => void;
  /**
   * What renewals, retries and registrations wait by, and what "now" is for a new certificate's
   * validity (tests move a ManualClock). Default: the system clock, its timers not holding the
   * process open.
   */
  clock?: Clock;
  /** The node's addresses for the SANs (default: the kernel's, nodeAddresses()). */
  addresses?: () => string[];
  /** Worker: the port trustd listens on at the control planes (default 50001). */
  trustdPort?: number;
  /** Worker: the port apid serves on, told to trustd (control planes relay to it there). */
  apiPort?: number;
  /** Worker: first retry delay after trustd could not sign (doubling up to retryMaxMs; defaults 2 s, 60 s) or a control plane did not take its registration (doubling up to registerEveryMs). */
  retryMs?: number;
  retryMaxMs?: number;
  /** How often a worker registers with every control plane (default REGISTER_EVERY_MS). */
  registerEveryMs?: number;
  /** What apid serves now and, on a worker, why trustd has not signed (for ApiCertificateStatus). */
  onStatus?: (s: ApiCertStatusSpec) => void;
}

/** The slice of a machine config this needs (raw base64 PEM, as the YAML holds it). */
export interface CertConfig {
  machine?: { type?: string; token?: string; ca?: { crt?: string; key?: string }; acceptedCAs?: { crt?: string }[]; certSANs?: string[] };
  cluster?: { controlPlane?: { endpoint?: string; nodes?: string[] } };
}

export type ApidMode = "maintenance" | "controlplane" | "worker";

export const FILES = {
  cert: "server.crt", key: "server.key", ca: "ca.crt", clientCert: "client.crt", clientKey: "client.key",
} as const;

const unb64 = (s: string) => Buffer.from(s, "base64").toString("utf8");

/** The node's own addresses (loopback included), for the server certificate's SANs. */
export function nodeAddresses(): string[] {
  const out = new Set<string>(["127.0.0.1", "::1"]);
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.add(a.address.replace(/%.*$/, ""));
  return [...out];
}

const addressKey = (a: string[]) => [...new Set(a)].sort().join(" ");
/** apid has just been (re)started when the first request goes out: give it time to set up its SIGHUP handler. */
const FIRST_JOIN_DELAY_MS = 1000;

export class ApiCertificates {
  private timer: Cancel | undefined;
  private current: { config?: CertConfig; hostname: string } = { hostname: "bunker" };
  private issuedAddresses = "";
  private served: Buffer | undefined;
  /** Worker: the certificate trustd signed that apid serves, for which CA, and until when. */
  private joined: { ca: string; notAfter: Date; key: string; crtPem: string } | undefined;
  private joinTimer: Cancel | undefined;
  private registerTimer: Cancel | undefined;
  private registerBackoff: Backoff;
  private joining = false;
  private joinAgain = false;
  private failures = 0;
  private stopped = false;

  private readonly clock: Clock;

  constructor(private readonly o: ApiCertsOptions) {
    this.clock = o.clock ?? backgroundClock;
    this.registerBackoff = new Backoff(o.retryMs ?? 2000, o.registerEveryMs ?? REGISTER_EVERY_MS);
  }

  path(name: keyof typeof FILES): string { return join(this.o.dir, FILES[name]); }

  /** SHA-256 of the DER server certificate last written (what a client pins), if any. */
  serverFingerprint(): Buffer | undefined { return this.served; }

  /** Writes the certificates for this config (undefined: maintenance) and schedules renewal. */
  issue(config: CertConfig | undefined, hostname: string): ApidMode {
    this.current = { config, hostname };
    this.timer?.();
    mkdirSync(this.o.dir, { recursive: true, mode: 0o700 });
    if (this.o.uid !== undefined) chownSync(this.o.dir, this.o.uid, this.o.gid ?? this.o.uid);
    const now = new Date(this.clock.now());
    const lifetime = this.o.lifetimeMs ?? LIFETIME.node;
    const addresses = (this.o.addresses ?? nodeAddresses)();
    this.issuedAddresses = addressKey(addresses);
    const sans = [hostname, ...(config?.machine?.certSANs ?? []), ...addresses, "localhost"];
    const m = config?.machine;
    let mode: ApidMode;
    if (!m?.ca?.crt) {
      mode = "maintenance";
      this.writePair("cert", "key", selfSigned(hostname, sans, lifetime, now));
    } else {
      const cas = [unb64(m.ca.crt), ...(m.acceptedCAs ?? []).flatMap((a) => (a.crt ? [unb64(a.crt)] : []))];
      this.write("ca", cas.join(""));
      if (m.ca.key) {
        mode = "controlplane";
        const ca = fromPemPair({ crt: unb64(m.ca.crt), key: unb64(m.ca.key) }, "machine.ca");
        this.writePair("cert", "key", issueLeaf(ca, { commonName: hostname, sans, lifetime, usage: ["serverAuth"], now }));
        this.writePair("clientCert", "clientKey", issueLeaf(ca, { commonName: hostname, roles: [IMPERSONATOR], lifetime, usage: ["clientAuth"], now }));
      } else {
        mode = "worker";
        // A certificate trustd signed for this CA that is still good is kept: it goes on serving
        // while a new one is asked for (new addresses, a new config).
        // During a CA rotation the old CA stays accepted: its certificate serves until the new one comes.
        const trusted = [m.ca.crt, ...(m.acceptedCAs ?? []).flatMap((a) => (a.crt ? [a.crt] : []))];
        const held = this.joined && trusted.includes(this.joined.ca) && this.joined.notAfter > now;
        if (!held) {
          this.joined = undefined;
          const ss = selfSigned(hostname, sans, lifetime, now);
          this.writePair("cert", "key", ss);
          this.report({ mode, signer: "self-signed", notAfter: ss.certificate.notAfter.toISOString() });
        }
        // Ask again only when what the certificate says would change (not when apid merely
        // restarts: its pre-start comes here). The first request waits a moment: apid, just
        // started, must be able to take the SIGHUP that follows an answer.
        if (!held || this.joinKey(config, hostname) !== this.joined?.key) {
          this.failures = 0;
          this.scheduleJoin(held ? 0 : FIRST_JOIN_DELAY_MS);
        }
        return mode;
      }
    }
    this.report({ mode, signer: mode === "controlplane" ? "cluster CA (this node)" : "self-signed", notAfter: new Date(now.getTime() + lifetime).toISOString() });
    // Renew at half-life: the certificate then still has half its life left to reach apid.
    this.timer = this.clock.setTimeout(() => this.renew(), lifetime / 2);
    if (this.served) this.o.onIssued?.(mode, this.served);
    return mode;
  }

  private status: ApiCertStatusSpec | undefined;
  private report(s: ApiCertStatusSpec): void {
    this.status = s;
    this.o.onStatus?.(s);
  }

  /** What a signed certificate depends on: the CA, the token, the endpoint, the names. */
  private joinKey(config: CertConfig | undefined, hostname: string, addresses = (this.o.addresses ?? nodeAddresses)()): string {
    const m = config?.machine;
    return JSON.stringify([m?.ca?.crt, m?.token, config?.cluster?.controlPlane?.endpoint, hostname, m?.certSANs, addressKey(addresses)]);
  }

  private scheduleJoin(delayMs: number): void {
    this.joinTimer?.();
    if (this.stopped) return;
    this.joinTimer = this.clock.setTimeout(() => { void this.join(); }, delayMs);
  }

  /** Worker: asks trustd for a certificate; on success apid reloads, else it keeps what it has. */
  private async join(): Promise<void> {
    if (this.joining) { this.joinAgain = true; return; }
    this.joining = true;
    const asked = this.current;
    const m = asked.config?.machine;
    try {
      if (!m?.ca?.crt || m.ca.key) return; // no longer a worker
      const cas = trustedCas(m);
      const addresses = (this.o.addresses ?? nodeAddresses)();
      try {
        if (!m.token) throw new Error("machine.token is unset: trustd signs only for holders of the join token");
        const targets = await this.targets(asked.config);
        const r = await requestNodeCertificate({ targets, token: m.token, ca: cas, hostname: asked.hostname, sans: [...(m.certSANs ?? []), ...addresses], apiPort: this.o.apiPort });
        // A config applied meanwhile asked again already; this answer is for the old one.
        if (this.current !== asked || this.stopped) return;
        this.writePair("cert", "key", { certificate: r.certificate, key: r.key });
        this.joined = { ca: m.ca.crt, notAfter: r.certificate.notAfter, key: this.joinKey(asked.config, asked.hostname, addresses), crtPem: r.crtPem };
        this.scheduleRegister(0);
        this.failures = 0;
        this.report({ mode: "worker", signer: "trustd", from: r.from, notAfter: r.certificate.notAfter.toISOString() });
        this.o.onRenewed?.();
        const c = r.certificate;
        // notBefore is back-dated (NOT_BEFORE_SKEW): the life counts from when it was signed.
        const signed = c.notBefore.getTime() + NOT_BEFORE_SKEW;
        const half = signed + (c.notAfter.getTime() - signed) / 2;
        this.scheduleJoin(Math.max(1000, half - this.clock.now()));
      } catch (err) {
        if (this.current !== asked || this.stopped) return;
        this.failures++;
        const delay = doublingDelay(this.failures, this.o.retryMs ?? 2000, this.o.retryMaxMs ?? 60_000);
        const serving = this.joined ? `serving the certificate trustd signed until ${this.joined.notAfter.toISOString()}` : "serving a self-signed certificate";
        const reason = err instanceof JoinError || err instanceof Error ? err.message : String(err);
        this.report({ ...(this.status ?? { mode: "worker", signer: "self-signed", notAfter: "" }), error: `${reason}; ${serving}; next attempt in ${Math.round(delay / 1000)} s` });
        this.o.onError?.(new Error(`asking trustd for apid's certificate: ${reason}`));
        this.scheduleJoin(delay);
      }
    } finally {
      this.joining = false;
      if (this.joinAgain) { this.joinAgain = false; this.scheduleJoin(0); }
    }
  }

  /** The control planes' trustd, endpoint first (joincert.ts trustdTargets). */
  private targets(config: CertConfig | undefined): ReturnType<typeof trustdTargets> {
    return trustdTargets(config?.cluster?.controlPlane?.endpoint, this.o.trustdPort ?? TRUSTD_PORT, config?.cluster?.controlPlane?.nodes);
  }

  private scheduleRegister(delayMs: number): void {
    this.registerTimer?.();
    if (this.stopped) return;
    this.registerTimer = this.clock.setTimeout(() => { void this.registerEverywhere(); }, delayMs);
  }

  /**
   * Worker: shows its certificate to every control plane it knows, now and every minute, so each
   * lists it as a member (and relays to it), also one that restarted or did not sign it. Failures
   * are not this node's problem to report: its certificate status comes from renewing. A round in
   * which a control plane did not take it (not up yet, restarting) is tried again soon, doubling
   * from retryMs up to the minute, so a control plane lists the worker soon after it comes up.
   */
  private async registerEverywhere(): Promise<void> {
    const joined = this.joined;
    const config = this.current.config;
    const token = config?.machine?.token;
    if (!joined || !token || !config?.machine?.ca?.crt) return;
    let failed = true;
    try {
      failed = (await registerNode({ targets: await this.targets(config), crtPem: joined.crtPem, token, ca: trustedCas(config.machine), apiPort: this.o.apiPort })).length > 0;
    } finally {
      if (failed) this.scheduleRegister(this.registerBackoff.fail());
      else {
        this.registerBackoff.reset();
        this.scheduleRegister(this.o.registerEveryMs ?? REGISTER_EVERY_MS);
      }
    }
  }

  private renew(): void {
    try {
      this.issue(this.current.config, this.current.hostname);
      this.o.onRenewed?.();
    } catch (err) {
      this.o.onError?.(err);
      // Try again soon rather than let the certificate run out.
      this.timer = this.clock.setTimeout(() => this.renew(), Math.min(60_000, (this.o.lifetimeMs ?? LIFETIME.node) / 10));
    }
  }

  /** True when the node's addresses differ from those the current certificate names. */
  addressesChanged(): boolean {
    return addressKey((this.o.addresses ?? nodeAddresses)()) !== this.issuedAddresses;
  }

  stop(): void { this.stopped = true; this.timer?.(); this.joinTimer?.(); this.registerTimer?.(); }

  private writePair(cert: keyof typeof FILES, key: keyof typeof FILES, ck: CertAndKey): void {
    // The key first: a reader that sees the new certificate must find its key.
    this.write(key, privateKeyPem(ck.key));
    this.write(cert, certificatePem(ck.certificate));
    if (cert === "cert") this.served = certificateFingerprint(ck.certificate.der);
  }

  private write(name: keyof typeof FILES, text: string): void {
    const p = this.path(name);
    writeAtomic(p, text, this.o.uid === undefined ? undefined : { uid: this.o.uid, gid: this.o.gid ?? this.o.uid });
  }
}

/** PEM of every CA a control plane's certificate may chain to: machine.ca, then the accepted CAs. */
function trustedCas(m: NonNullable<CertConfig["machine"]>): string {
  return [unb64(m.ca!.crt!), ...(m.acceptedCAs ?? []).flatMap((a) => (a.crt ? [unb64(a.crt)] : []))].join("");
}

/** A self-signed serverAuth certificate (maintenance mode, workers until trustd signs theirs). */
export function selfSigned(hostname: string, sans: string[], lifetime: number, now = new Date()): CertAndKey {
  const key = generateKey("ed25519");
  const certificate = buildCertificate({
    subject: { commonName: hostname, organizations: [] },
    publicKey: key,
    notBefore: new Date(now.getTime() - NOT_BEFORE_SKEW), notAfter: new Date(now.getTime() + lifetime),
    extensions: { basicConstraints: { ca: false }, keyUsage: ["digitalSignature"], extKeyUsage: ["serverAuth"], altNames: splitSans(sans) },
    selfKey: key,
  });
  return { certificate, key };
}
