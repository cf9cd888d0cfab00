/**
 * `trustd`: signs the certificate requests of joining nodes (TCP 50001 on control-plane nodes).
 * Under init it runs as its own uid (51), without capabilities; init hands it the CA pair and the
 * join token in a file only that uid can read (--secrets), re-written on a config change (SIGHUP
 * re-reads it). Its serving certificate is made here from the CA, so workers verify trustd with
 * the cluster CA they hold. Counts and the last signature and refusal go to init's store
 * (TrustdStatuses) when --init-socket is given.
 */
import { readFileSync, statSync } from "node:fs";
import { parseCli } from "../cli.ts";
import { ResourcePublisher, SecurityService } from "../../core/api/gen/services.ts";
import { TRUSTD_NODES, TRUSTD_STATUS, type TrustdNodeSpec, type TrustdStatusSpec } from "../../core/api/trustdstatus.ts";
import { GrpcClient } from "../../core/grpc/client.ts";
import { GrpcServer } from "../../core/grpc/server.ts";
import { fromPemPair, issueLeaf, LIFETIME } from "../../core/pki/issue.ts";
import { privateKeyPem } from "../../core/pki/keys.ts";
import { certificatePem } from "../../core/pki/x509.ts";
import { Trustd, type TrustdSecrets } from "./server.ts";
import { parseListen } from "../../core/api/listen.ts";

const HELP = `Usage: trustd --secrets FILE [--listen HOST:PORT] [--init-socket PATH]

Signs joining nodes' certificate requests (bunker.security.v1.SecurityService/Certificate) over
TLS 1.3 on --listen (default 0.0.0.0:50001) when the request's metadata "token" is the cluster's
join token. A node certificate: serverAuth + clientAuth, 24 h, no role, SANs as docs/cluster.md
says. Refusals are rate-limited per peer address.

  --secrets FILE      JSON from init: {ca: {crt, key}, acceptedCAs, token, reserved, hostname, sans}
  --init-socket PATH  publish TrustdStatuses to init (through the internal ResourcePublisher)
  --lifetime SECONDS  lifetime of the certificates signed (default 24 h; tests shorten it)

SIGHUP re-reads --secrets. SIGTERM stops.`;

const SHUTDOWN_GRACE_MS = 2000;
/** How often the status goes to init at most: a burst of refusals is one write. */
const PUBLISH_EVERY_MS = 250;
/** Nodes remembered at most (TrustdNodes); the one signed longest ago goes first. */
const MAX_NODES = 1024;

function readSecrets(path: string): TrustdSecrets {
  // The file holds the CA key: one others could read is a leak to fix, not to serve from.
  let mode: number;
  try { mode = statSync(path).mode & 0o777; } catch (err) { throw new Error(`--secrets ${path}: ${(err as Error).message}`); }
  if (mode & 0o077) throw new Error(`--secrets ${path}: mode 0${mode.toString(8)} lets others read the CA key; expected 0400 (or 0600)`);
  let s: TrustdSecrets;
  try { s = JSON.parse(readFileSync(path, "utf8")) as TrustdSecrets; } catch (err) { throw new Error(`--secrets ${path}: ${(err as Error).message}`); }
  if (!s || typeof s !== "object" || !s.ca?.crt || !s.ca?.key || typeof s.token !== "string" || !Array.isArray(s.reserved) || !Array.isArray(s.sans)) {
    throw new Error(`--secrets ${path}: expected {ca: {crt, key}, token, reserved: [], hostname, sans: []}`);
  }
  return s;
}

/** trustd's serving certificate, from the CA it holds: serverAuth, the names workers dial. */
function servingPair(s: TrustdSecrets): { cert: string; key: string } {
  const ca = fromPemPair(s.ca, "machine.ca");
  const ck = issueLeaf(ca, { commonName: s.hostname || "trustd", sans: s.sans, lifetime: LIFETIME.node, usage: ["serverAuth"] });
  return { cert: certificatePem(ck.certificate), key: privateKeyPem(ck.key) };
}

export async function main(argv: string[]): Promise<number> {
  const parsed = parseCli("trustd", argv, HELP, {
    listen: { type: "string", default: "0.0.0.0:50001" }, secrets: { type: "string" }, "init-socket": { type: "string" }, lifetime: { type: "string" },
  });
  if (typeof parsed === "number") return parsed;
  const args = parsed.values;
  if (!args.secrets) { console.error(`trustd: missing --secrets\n\n${HELP}`); return 2; }
  const lifetimeS = args.lifetime === undefined ? undefined : Number(args.lifetime);
  if (lifetimeS !== undefined && !(lifetimeS >= 2)) { console.error(`trustd: --lifetime ${args.lifetime}: expected seconds (at least 2)`); return 2; }

  const status: TrustdStatusSpec = { listen: args.listen!, issued: 0, refused: 0 };
  const init = args["init-socket"] ? GrpcClient.unix(args["init-socket"]) : undefined;
  const nodes = new Map<string, TrustdNodeSpec>();
  let publishTimer: ReturnType<typeof setTimeout> | undefined;
  const publish = () => {
    if (!init || publishTimer) return;
    publishTimer = setTimeout(() => {
      publishTimer = undefined;
      const fail = (err: Error) => console.error(`trustd: publishing to init: ${err.message}`);
      init.unary(ResourcePublisher.Put, {
        namespace: TRUSTD_STATUS.namespace, type: TRUSTD_STATUS.type,
        resource: { id: TRUSTD_STATUS.id, specJson: JSON.stringify(status) },
      }, { timeoutMs: 10_000 }).catch(fail);
      init.unary(ResourcePublisher.Replace, {
        namespace: TRUSTD_NODES.namespace, type: TRUSTD_NODES.type,
        resources: [...nodes.values()].map((n) => ({ id: n.address, specJson: JSON.stringify(n) })),
      }, { timeoutMs: 10_000 }).catch(fail);
    }, PUBLISH_EVERY_MS);
  };

  let server: GrpcServer;
  let secrets: TrustdSecrets;
  let renew: ReturnType<typeof setInterval>;
  try {
    secrets = readSecrets(args.secrets);
    const trustd = new Trustd({
      secrets, ...(lifetimeS !== undefined ? { lifetimeMs: lifetimeS * 1000 } : {}),
      onRefused: (r) => {
        status.refused++;
        status.lastRefusal = { time: new Date().toISOString(), peer: r.peer, reason: r.reason };
        console.error(`trustd: refused a certificate request from ${r.peer}: ${r.reason}`);
        publish();
      },
      onIssued: (i) => {
        status.issued++;
        const { apiPort, ...issue } = i;
        status.lastIssue = { time: new Date().toISOString(), ...issue };
        const address = `${i.peer.includes(":") ? `[${i.peer}]` : i.peer}:${apiPort}`;
        nodes.delete(address);
        nodes.set(address, { address, hostname: i.commonName, sans: i.sans, signedAt: status.lastIssue.time, notAfter: i.notAfter });
        if (nodes.size > MAX_NODES) nodes.delete(nodes.keys().next().value!);
        console.error(`trustd: signed a node certificate for ${i.commonName} (${i.sans.join(", ")}) requested from ${i.peer}${i.dropped.length ? `; left out ${i.dropped.join(", ")}` : ""}`);
        publish();
      },
      onRegistered: (r) => {
        const address = `${r.peer.includes(":") ? `[${r.peer}]` : r.peer}:${r.apiPort}`;
        const known = nodes.get(address);
        // Nodes re-register every minute: only news is worth a line and a publish.
        if (known?.notAfter === r.notAfter) return;
        nodes.delete(address);
        nodes.set(address, { address, hostname: r.commonName, sans: r.sans, signedAt: r.notBefore, notAfter: r.notAfter });
        if (nodes.size > MAX_NODES) nodes.delete(nodes.keys().next().value!);
        if (!known) console.error(`trustd: ${r.commonName} at ${address} registered with a certificate of the cluster CA`);
        publish();
      },
    });
    const { host, port } = parseListen(args.listen!);
    server = new GrpcServer({
      // A CSR is small: a large message is no node's.
      maxReceiveMessageBytes: 64 * 1024,
      onError: (err, where) => console.error(`trustd: ${where}: ${err.message}`),
    });
    server.handle(SecurityService.Certificate, trustd.certificate);
    server.handle(SecurityService.Register, trustd.register);
    // No client certificate: a joining node has none yet; the token authenticates it.
    const addr = await server.listenTls({ host, port, ...servingPair(secrets), requireClientCert: false });
    console.error(`trustd: listening on ${addr.address}:${addr.port}`);
    publish();
    const reload = () => {
      try {
        secrets = readSecrets(args.secrets!);
        trustd.setSecrets(secrets);
        server.setCredentials(servingPair(secrets));
        console.error("trustd: secrets reloaded");
      } catch (err) {
        console.error(`trustd: reload failed, keeping the current secrets: ${(err as Error).message}`);
      }
    };
    process.on("SIGHUP", reload);
    // The serving certificate lives 24 h: a new one at half-life.
    renew = setInterval(() => server.setCredentials(servingPair(secrets)), LIFETIME.node / 2);
  } catch (err) {
    console.error(`trustd: ${(err as Error).message}`);
    return 1;
  }
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  clearInterval(renew);
  clearTimeout(publishTimer);
  await server.close(SHUTDOWN_GRACE_MS);
  init?.close();
  return 0;
}
