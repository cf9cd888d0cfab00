/**
 * trustd's service: SecurityService.Certificate over TLS. The caller has no client certificate
 * yet (that is what it comes for); it proves it belongs to the cluster with the join token in the
 * metadata `token`. Order of checks, cheapest and least revealing first: the peer's refusal
 * budget, the token (constant time), then the request. Every refusal and every signature is
 * reported through `onRefused` / `onIssued` (without the token: reports name the peer and why).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { SecurityService } from "../../core/api/gen/services.ts";
import type { CallContext } from "../../core/grpc/server.ts";
import { GrpcError, Status } from "../../core/grpc/status.ts";
import { fromPemPair, type CertAndKey } from "../../core/pki/issue.ts";
import { certificatePem, checkIssuedBy, loadCertificate, type Certificate } from "../../core/pki/x509.ts";
import { PeerBuckets, type BucketOptions } from "./ratelimit.ts";
import { canonicalName, decodeCsr, RequestError, signNodeRequest } from "./sign.ts";

/** What init hands trustd (a file only trustd's uid can read); PEM texts. */
export interface TrustdSecrets {
  ca: { crt: string; key: string };
  /** Other CAs nodes should trust (machine.acceptedCAs, during a CA rotation). */
  acceptedCAs?: string[];
  /** machine.token. */
  token: string;
  /** The control plane's own names (hostname, certSANs, addresses, the endpoint host): never granted to a requester. */
  reserved: string[];
  /** trustd's serving certificate: its CN and SANs (the names workers dial it by). */
  hostname: string;
  sans: string[];
}

export interface Refusal { peer: string; reason: string; code: number }
export interface Issue { peer: string; apiPort: number; commonName: string; sans: string[]; dropped: string[]; notAfter: string }
/** A node that showed a certificate of the cluster CA naming its address (Register). */
export interface Registration { peer: string; apiPort: number; commonName: string; sans: string[]; notBefore: string; notAfter: string }

export interface TrustdOptions {
  secrets: TrustdSecrets;
  limit?: BucketOptions;
  lifetimeMs?: number;
  onRefused?: (r: Refusal) => void;
  onIssued?: (i: Issue) => void;
  onRegistered?: (r: Registration) => void;
}

/** Refusal budget per peer address: a burst of 5, then one every 6 s (10 a minute). */
export const DEFAULT_LIMIT: BucketOptions = { capacity: 5, refillPerSecond: 1 / 6 };

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();

export class Trustd {
  private ca!: CertAndKey;
  private caPem!: string;
  /** Every CA a node's certificate may chain to: machine.ca and, during a rotation, the accepted ones. */
  private trusted: Certificate[] = [];
  private tokenDigest!: Buffer;
  private reserved!: string[];
  readonly buckets: PeerBuckets;

  constructor(private readonly o: TrustdOptions) {
    this.buckets = new PeerBuckets(o.limit ?? DEFAULT_LIMIT);
    this.setSecrets(o.secrets);
  }

  /** New secrets (a config change: the token is live, the CA may rotate). Throws when unusable. */
  setSecrets(s: TrustdSecrets): void {
    if (!s.token) throw new Error("trustd secrets: no join token (machine.token)");
    const ca = fromPemPair(s.ca, "machine.ca");
    this.ca = ca;
    this.caPem = [certificatePem(ca.certificate), ...(s.acceptedCAs ?? [])].join("");
    this.trusted = [ca.certificate, ...(s.acceptedCAs ?? []).map((p, i) => loadCertificate(p, `acceptedCAs[${i}]`))];
    // Equal-length digests: timingSafeEqual needs equal lengths, and comparing digests hides
    // the token's length as well as its bytes.
    this.tokenDigest = digest(s.token);
    this.reserved = s.reserved.map(canonicalName);
  }

  /**
   * The checks every call starts with, cheapest and least revealing first: the peer's refusal
   * budget, then the token. Returns the peer's canonical address and the refusal to use later.
   */
  private admit(ctx: CallContext): { peer: string; refuse: (code: number, reason: string, budget?: boolean) => never } {
    const peer = ctx.peer.transport === "tls" ? canonicalName(ctx.peer.address) : "local";
    const refuse = (code: number, reason: string, budget = true): never => {
      if (budget) this.buckets.take(peer);
      this.o.onRefused?.({ peer, reason, code });
      throw new GrpcError(code, reason);
    };
    if (!this.buckets.allowed(peer)) {
      // Not charged again, and not reported each time: a peer hammering away would flood the events.
      throw new GrpcError(Status.RESOURCE_EXHAUSTED, `too many refused requests from ${peer}; retry in ${this.buckets.retryAfter(peer)} s`);
    }
    const given = ctx.metadata.token;
    if (typeof given !== "string" || given === "") refuse(Status.UNAUTHENTICATED, "no join token: send machine.token in the metadata \"token\"");
    if (!timingSafeEqual(digest(given as string), this.tokenDigest)) refuse(Status.UNAUTHENTICATED, "wrong join token");
    return { peer, refuse };
  }

  /** The handler of SecurityService.Certificate. */
  certificate = (req: { csr?: Uint8Array | null; apiPort?: number | null }, ctx: CallContext): { ca: Uint8Array; crt: Uint8Array } => {
    const { peer, refuse } = this.admit(ctx);
    let signed;
    try {
      signed = signNodeRequest(this.ca, decodeCsr(req.csr ?? new Uint8Array()), peer, { reserved: this.reserved, lifetimeMs: this.o.lifetimeMs });
    } catch (err) {
      // A token holder with a bad request is not guessing: report, but spend no budget.
      if (err instanceof RequestError) refuse(Status.INVALID_ARGUMENT, err.message, false);
      throw err;
    }
    this.o.onIssued?.({ peer, apiPort: apiPortOf(req.apiPort), commonName: signed.commonName, sans: signed.sans, dropped: signed.dropped, notAfter: signed.certificate.notAfter.toISOString() });
    return { ca: Buffer.from(this.caPem), crt: Buffer.from(certificatePem(signed.certificate)) };
  };

  /** The handler of SecurityService.Register. */
  register = (req: { crt?: Uint8Array | null; apiPort?: number | null }, ctx: CallContext): Record<string, never> => {
    const { peer, refuse } = this.admit(ctx);
    let cert: Certificate;
    try {
      cert = loadCertificate(Buffer.from(req.crt ?? new Uint8Array()).toString("utf8"), "the node's certificate");
    } catch (err) {
      return refuse(Status.INVALID_ARGUMENT, (err as Error).message, false);
    }
    const problems = this.trusted.map((ca) => checkIssuedBy(cert, ca));
    if (!problems.some((p) => p.length === 0)) refuse(Status.INVALID_ARGUMENT, `the certificate is not one of the cluster CA valid now: ${problems[0]!.join("; ")}`, false);
    if (cert.extensions.basicConstraints?.ca) refuse(Status.INVALID_ARGUMENT, "a CA certificate is no node's", false);
    // Only the address the call came from may be listed: a node cannot make this one relay elsewhere.
    if (!cert.extensions.altNames.ips.map(canonicalName).includes(peer)) refuse(Status.INVALID_ARGUMENT, `the certificate does not name ${peer}, the address this request came from`, false);
    this.o.onRegistered?.({
      peer, apiPort: apiPortOf(req.apiPort), commonName: cert.subject.commonName ?? "", sans: [...cert.extensions.altNames.dns, ...cert.extensions.altNames.ips],
      notBefore: cert.notBefore.toISOString(), notAfter: cert.notAfter.toISOString(),
    });
    return {};
  };
}

const apiPortOf = (p: number | null | undefined) => (p && p > 0 && p < 65536 ? p : 50000);
