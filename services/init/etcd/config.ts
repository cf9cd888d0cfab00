/** etcd as init runs it: its uid, ports, binary, config file, and the refusal of an etcd action. */
import { BunkerError } from "../../../core/errors.ts";
import { ETCD_EXTENSION } from "../../../core/image/layout.ts";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseIP } from "../../../core/ip/ip.ts";

/** etcd's uid on a node and in container mode under root (53 is the dashboard's). */
export const ETCD_UID = 54;
export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;
/** Where init looks for the etcd binary, in order: the image's extension (a node), then the host's (container mode). */
export const ETCD_BINARIES = [`/${ETCD_EXTENSION.mountPoint}/bin/etcd`, "/usr/bin/etcd", "/usr/local/bin/etcd"];

/** The slice of a machine config this needs (base64 PEM, as the YAML holds it). */
export interface EtcdConfig {
  cluster?: { etcd?: { ca?: { crt?: string; key?: string } }; controlPlane?: { endpoint?: string; nodes?: string[] } };
}

export class EtcdRefusal extends BunkerError {
  constructor(message: string) { super("failed_precondition", message); this.name = "EtcdRefusal"; }
}

/** The largest snapshot taken to recover from: etcd's own largest backend quota (8 GiB). */
export const MAX_SNAPSHOT_BYTES = 8 * 1024 ** 3;

export function etcdBinary(candidates = ETCD_BINARIES): string | undefined {
  return candidates.find((p) => existsSync(p));
}

export const urlOf = (host: string, port: number): string => `https://${parseIP(host)?.family === 6 ? `[${host}]` : host}:${port}`;

/** etcd 3.4's config file (YAML; JSON is YAML): every flag init sets, TLS on both sides. */
export function etcdConfigFile(o: {
  name: string; dataDir: string; certDir: string; address: string; clientPort: number; peerPort: number;
  state: "new" | "existing"; initialCluster: string;
}): string {
  const client = urlOf(o.address, o.clientPort);
  const peer = urlOf(o.address, o.peerPort);
  const f = (n: string) => join(o.certDir, n);
  return JSON.stringify({
    name: o.name, "data-dir": o.dataDir,
    "listen-client-urls": client, "advertise-client-urls": client,
    "listen-peer-urls": peer, "initial-advertise-peer-urls": peer,
    "initial-cluster": o.initialCluster, "initial-cluster-state": o.state, "initial-cluster-token": "bunker",
    "client-transport-security": { "cert-file": f("server.crt"), "key-file": f("server.key"), "trusted-ca-file": f("ca.crt"), "client-cert-auth": true },
    "peer-transport-security": { "cert-file": f("peer.crt"), "key-file": f("peer.key"), "trusted-ca-file": f("ca.crt"), "client-cert-auth": true },
    "logger": "zap", "log-outputs": ["stderr"],
  }, null, 1);
}
