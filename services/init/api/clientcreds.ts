/**
 * GenerateClientConfiguration: an admin asks the node for a client certificate with given roles
 * and lifetime, signed by machine.ca. Only a controlplane holds the CA key; roles must be the
 * four user roles (never os:impersonator: node certificates are not handed out this way).
 */
import { isRole } from "../../../core/api/roles.ts";
import { clientConfigToYaml } from "../../../core/clientconfig/clientconfig.ts";
import { endpointHost } from "../../../core/genconfig/genconfig.ts";
import { fromPemPair, issueClientCert, LIFETIME, toPemPair } from "../../../core/pki/issue.ts";
import { BunkerError } from "../../../core/errors.ts";

/** The slice of the machine config this needs (base64 PEM, as the YAML holds it). */
export interface CredsConfig {
  machine?: { type?: string; ca?: { crt?: string; key?: string } };
  cluster?: { clusterName?: string; controlPlane?: { endpoint?: string } };
}

const MAX_TTL_SECONDS = 10 * 365 * 24 * 3600;
const b64 = (s: string) => Buffer.from(s).toString("base64");

export function generateClientConfiguration(config: CredsConfig | undefined, req: { roles: string[]; ttlSeconds: number; context: string }, now = new Date()) {
  const ca = config?.machine?.ca;
  if (!ca?.crt || !ca.key) {
    throw new BunkerError("failed_precondition", "this node holds no cluster CA key (only a controlplane does): ask a controlplane node");
  }
  if (!req.roles.length) throw new BunkerError("invalid_argument", "roles: name at least one of os:admin, os:operator, os:reader, os:etcd:backup");
  const bad = req.roles.filter((r) => !isRole(r));
  if (bad.length) throw new BunkerError("invalid_argument", `roles: ${bad.join(", ")} unknown (expected os:admin, os:operator, os:reader, os:etcd:backup)`);
  if (req.ttlSeconds > MAX_TTL_SECONDS) throw new BunkerError("invalid_argument", `ttl_seconds: at most ${MAX_TTL_SECONDS} (10 years)`);
  const lifetime = req.ttlSeconds > 0 ? req.ttlSeconds * 1000 : LIFETIME.admin;
  const caPair = fromPemPair({ crt: Buffer.from(ca.crt, "base64").toString("utf8"), key: Buffer.from(ca.key, "base64").toString("utf8") }, "machine.ca");
  const name = [...req.roles].sort().join("+").replaceAll("os:", "");
  const pem = toPemPair(issueClientCert(caPair, { commonName: name, roles: req.roles, lifetime, now }));
  const caPem = Buffer.from(ca.crt, "base64").toString("utf8");
  const endpoint = config?.cluster?.controlPlane?.endpoint;
  const host = endpoint ? endpointHost(endpoint) : "";
  const context = req.context || config?.cluster?.clusterName || "bunker";
  const bunkerconfig = clientConfigToYaml({
    context, contexts: { [context]: { endpoints: host ? [host] : [], nodes: host ? [host] : [], ca: b64(caPem), crt: b64(pem.crt), key: b64(pem.key) } },
  });
  const enc = (s: string) => new TextEncoder().encode(s);
  return { ca: enc(caPem), crt: enc(pem.crt), key: enc(pem.key), bunkerconfig: enc(bunkerconfig) };
}
