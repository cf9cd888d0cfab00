/**
 * The certificates apid serves and relays with, made by init (apid has no key material of its
 * own and cannot reach the CA key):
 * - controlplane: a server certificate (serverAuth; SANs: machine.certSANs, the node's
 *   addresses, its hostname, 127.0.0.1, ::1, localhost) and a node client certificate (clientAuth,
 *   O=os:impersonator, for relaying to other nodes), both signed by machine.ca, 24 h by default;
 * - worker (no CA key here; trustd will sign for it in a later step): a self-signed server
 *   certificate; client certificates are still checked against machine.ca; it cannot relay;
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
import { writeAtomic } from "./machine.ts";

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
  now?: () => Date;
  /** The node's addresses for the SANs (default: the kernel's, nodeAddresses()). */
  addresses?: () => string[];
}

/** The slice of a machine config this needs (raw base64 PEM, as the YAML holds it). */
export interface CertConfig {
  machine?: { type?: string; ca?: { crt?: string; key?: string }; acceptedCAs?: { crt?: string }[]; certSANs?: string[] };
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

export class ApiCertificates {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private current: { config?: CertConfig; hostname: string } = { hostname: "bunker" };
  private issuedAddresses = "";
  private served: Buffer | undefined;

  constructor(private readonly o: ApiCertsOptions) {}

  path(name: keyof typeof FILES): string { return join(this.o.dir, FILES[name]); }

  /** SHA-256 of the DER server certificate last written (what a client pins), if any. */
  serverFingerprint(): Buffer | undefined { return this.served; }

  /** Writes the certificates for this config (undefined: maintenance) and schedules renewal. */
  issue(config: CertConfig | undefined, hostname: string): ApidMode {
    this.current = { config, hostname };
    clearTimeout(this.timer);
    mkdirSync(this.o.dir, { recursive: true, mode: 0o700 });
    if (this.o.uid !== undefined) chownSync(this.o.dir, this.o.uid, this.o.gid ?? this.o.uid);
    const now = this.o.now?.() ?? new Date();
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
        this.writePair("cert", "key", selfSigned(hostname, sans, lifetime, now));
      }
    }
    // Renew at half-life: the certificate then still has half its life left to reach apid.
    this.timer = setTimeout(() => this.renew(), lifetime / 2);
    this.timer.unref?.();
    if (this.served) this.o.onIssued?.(mode, this.served);
    return mode;
  }

  private renew(): void {
    try {
      this.issue(this.current.config, this.current.hostname);
      this.o.onRenewed?.();
    } catch (err) {
      this.o.onError?.(err);
      // Try again soon rather than let the certificate run out.
      this.timer = setTimeout(() => this.renew(), Math.min(60_000, (this.o.lifetimeMs ?? LIFETIME.node) / 10));
      this.timer.unref?.();
    }
  }

  /** True when the node's addresses differ from those the current certificate names. */
  addressesChanged(): boolean {
    return addressKey((this.o.addresses ?? nodeAddresses)()) !== this.issuedAddresses;
  }

  stop(): void { clearTimeout(this.timer); }

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
