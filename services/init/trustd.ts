/**
 * trustd as a service of init, on control-plane nodes only: its own uid (51), no capabilities,
 * no new privileges. It needs the CA key, which must reach no one else: init writes the CA pair
 * and the join token into a file in a folder only trustd's uid can open (folder 0700, file 0400,
 * both owned by it), never into the resource store. The file is written again when the config
 * changes (the token is live), and trustd re-reads it on SIGHUP.
 */
import { chmodSync, chownSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { TRUSTD_NODES, TRUSTD_STATUSES, type TrustdNodeSpec } from "../../core/api/trustdstatus.ts";
import { writeFileAtomic } from "../../core/fileio/atomic.ts";
import type { Store } from "../../core/resources/index.ts";
import { builtName } from "../names.ts";
import type { TrustdSecrets } from "../trustd/server.ts";
import { nodeAddresses, type CertConfig } from "./apicerts.ts";
import { selfCommand } from "../../core/sys/self.ts";
import type { ServiceSpec } from "./service.ts";

/** trustd's uid on a node (the rootfs passwd names it `trustd`). */
export const TRUSTD_UID = 51;

export interface TrustdPlan {
  listen: string;
  /** Folder of the secrets file (trustd's own). */
  dir: string;
  /** init's socket, for TrustdStatuses; only when trustd has a uid of its own (init knows it by it). */
  socket?: string;
  uid?: number;
  gid?: number;
  oomScoreAdj?: number;
  /** Lifetime of the certificates it signs (container mode tests); default 24 h. */
  lifetimeMs?: number;
  /** The current config and hostname. */
  current: () => { config: CertConfig | undefined; hostname: string };
}

const unb64 = (s: string) => Buffer.from(s, "base64").toString("utf8");

/** What trustd needs from a control plane's config; a string says why this node runs no trustd. */
export function trustdSecrets(config: CertConfig | undefined, hostname: string, addresses: string[] = nodeAddresses()): TrustdSecrets | string {
  const m = config?.machine;
  if (!m) return "no machine config yet";
  if (!m.ca?.crt || !m.ca.key) return "this node is a worker (no machine.ca.key): trustd runs on control planes only";
  if (!m.token) return "machine.token is unset: there is no join token to check";
  let endpointHost: string[] = [];
  try {
    const e = config?.cluster?.controlPlane?.endpoint;
    if (e) endpointHost = [new URL(e).hostname.replace(/^\[(.*)\]$/, "$1")];
  } catch { /* validation reports a bad endpoint */ }
  const own = [hostname, ...(m.certSANs ?? []), ...endpointHost, ...addresses, "localhost"];
  return {
    ca: { crt: unb64(m.ca.crt), key: unb64(m.ca.key) },
    acceptedCAs: (m.acceptedCAs ?? []).flatMap((a) => (a.crt ? [unb64(a.crt)] : [])),
    token: m.token,
    // Every control plane's address is out of a worker's reach, not only this one's: a token
    // holder must never pass for any of them.
    reserved: [...own, ...(config?.cluster?.controlPlane?.nodes ?? [])],
    hostname,
    sans: own,
  };
}

/** Writes the secrets file: 0400, owned by trustd, replaced atomically (never readable by others, not even briefly). */
export function writeTrustdSecrets(path: string, s: TrustdSecrets, owner?: { uid: number; gid: number }): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  chmodSync(dirname(path), 0o700); // a folder left from before keeps its mode otherwise
  if (owner) chownSync(dirname(path), owner.uid, owner.gid);
  writeFileAtomic(path, JSON.stringify(s), { mode: 0o400, overwrite: true, owner });
}

export function trustdService(p: TrustdPlan): ServiceSpec {
  const privileged = p.uid !== undefined;
  const file = join(p.dir, "secrets.json");
  const secrets = () => { const c = p.current(); return trustdSecrets(c.config, c.hostname); };
  return {
    id: "trustd", description: `signs the certificate requests of joining nodes on ${p.listen}`,
    skip: () => {
      if (!builtName("trustd")) return "personality trustd is not built into this binary";
      const s = secrets();
      return typeof s === "string" ? s : undefined;
    },
    preStart: () => {
      const s = secrets();
      if (typeof s === "string") throw new Error(s);
      writeTrustdSecrets(file, s, privileged ? { uid: p.uid!, gid: p.gid ?? p.uid! } : undefined);
    },
    runner: {
      argv: [...selfCommand(), "--listen", p.listen, "--secrets", file,
        ...(privileged && p.socket ? ["--init-socket", p.socket] : []),
        ...(p.lifetimeMs !== undefined ? ["--lifetime", String(Math.round(p.lifetimeMs / 1000))] : [])],
      argv0: "trustd", noNewPrivs: true, oomScoreAdj: p.oomScoreAdj,
      ...(privileged ? { uid: p.uid, gid: p.gid, capabilities: [] } : {}),
    },
    ...(privileged ? { publishes: [TRUSTD_STATUSES, TRUSTD_NODES] } : {}),
    stopGraceMs: 5000,
  };
}

/** The secrets file of a plan (init re-writes it on a config change, then SIGHUPs trustd). */
export const trustdSecretsPath = (p: Pick<TrustdPlan, "dir">): string => join(p.dir, "secrets.json");

/**
 * The apid addresses (HOST:PORT) of the nodes this control plane's trustd signed for, whose
 * certificates are still valid: the cluster members it learned of, for the relay's member list.
 */
export function joinedNodes(store: Store, now = new Date()): string[] {
  return store.list<TrustdNodeSpec>(TRUSTD_NODES)
    .filter((r) => new Date(r.spec.notAfter) > now)
    .map((r) => r.spec.address);
}
