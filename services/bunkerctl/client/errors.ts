/**
 * A failed call in words an operator can act on, with the exit code scripts rely on. gRPC
 * statuses alone say little ("UNAVAILABLE: connection closed"); this adds what to check next.
 */
import { EKU_OIDS, loadCertificate, signingProblems, validityProblems } from "../../../core/pki/x509.ts";
import { REASON } from "../../../core/errors.ts";
import { closedDuringCall, GrpcError, reasonOf, Status, statusName } from "../../../core/grpc/status.ts";
import { PIN_MISMATCH } from "../../../core/grpc/client.ts";
import { EXIT } from "./exitcodes.ts";
import { ConfigError, type Target } from "./target.ts";

export interface Explained {
  message: string;
  exit: number;
}

/** Why the node might have dropped the connection right after the handshake: our certificate, checked here. */
export function certificateProblems(target: Pick<Target, "ca" | "cert">, now = new Date()): string[] {
  if (!target.cert) return [];
  try {
    const cert = loadCertificate(target.cert, "client certificate");
    const problems: string[] = [];
    const eku = cert.extensions.extKeyUsage;
    if (!eku.includes("clientAuth") && !eku.includes(EKU_OIDS.clientAuth)) problems.push("it lacks extended key usage clientAuth");
    if (now > cert.notAfter) problems.push(`it expired at ${cert.notAfter.toISOString()}`);
    if (now < cert.notBefore) problems.push(`it is not valid before ${cert.notBefore.toISOString()}`);
    if (target.ca) {
      const ca = loadCertificate(target.ca, "CA certificate");
      // The certificate's own dates are checked above; the CA's count here.
      const chain = [...signingProblems(cert, ca), ...validityProblems(ca, "CA", now)];
      if (chain.length) problems.push(`it was not issued by the context's CA (${chain[0]})`);
    }
    return problems;
  } catch (e) {
    return [(e as Error).message];
  }
}

// The TLS library's alert names and the system's error names reach us only in the text of an
// error (a relayed one carries nothing else): these are read there, for the words of the message.
const TLS_CLIENT_REFUSED = /CERTIFICATE_REQUIRED|BAD_CERTIFICATE|CERTIFICATE_EXPIRED|UNKNOWN_CA|UNSUPPORTED_CERTIFICATE|CERTIFICATE_UNKNOWN|ACCESS_DENIED|DECRYPT_ERROR/i;
const TLS_SERVER_UNTRUSTED = /self[- ]signed certificate|unable to (get|verify)|certificate (has expired|is not yet valid)|ERR_TLS_CERT_ALTNAME_INVALID|Hostname\/IP does not match|altnames|CERT_/i;
const NOT_REACHED = /ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET/;

/** A wait (health, reboot --wait) that ran out of time (exit code 6). */
export class WaitTimeout extends Error {}

/** The error of a call to `where` (a node or endpoint), explained. */
export function explain(err: unknown, target: Target, where: string): Explained {
  if (err instanceof ConfigError) return { message: err.message, exit: EXIT.CONFIG };
  if (err instanceof WaitTimeout) return { message: `${where}: ${err.message}`, exit: EXIT.TIMEOUT };
  if (!(err instanceof GrpcError)) return { message: err instanceof Error ? err.message : String(err), exit: EXIT.FAILED };
  const d = err.details;
  const said = `${statusName(err.code)}: ${d}`;
  switch (err.code) {
    case Status.PERMISSION_DENIED:
      // The role table's refusals name the roles needed; other refusals (a path outside the
      // allowed roots) are about the request, not the certificate.
      return { message: `${where}: permission denied: ${d}${reasonOf(err) === REASON.missingRole ? "\n  ask an admin for a certificate with one of those roles (`bunkerctl config info` shows yours)" : ""}`, exit: EXIT.DENIED };
    case Status.UNAUTHENTICATED:
      return { message: `${where}: not authenticated: ${d}${target.insecure ? "\n  the node is not in maintenance mode: drop --insecure and use a context with a client certificate" : ""}`, exit: EXIT.DENIED };
    case Status.DEADLINE_EXCEEDED:
      return { message: `${where}: no answer in time (${d}); is the node up and the endpoint right? (--timeout sets the limit)`, exit: EXIT.UNREACHABLE };
    case Status.UNAVAILABLE:
      break;
    default:
      return { message: `${where}: ${said}`, exit: EXIT.FAILED };
  }
  if (d.startsWith(PIN_MISMATCH)) {
    return {
      message: `${where}: the node's certificate is not the one --fingerprint names; nothing was sent to it: ${d}\n  compare with the fingerprint on the node's console: another machine may be answering at this address`,
      exit: EXIT.DENIED,
    };
  }
  if (/CERTIFICATE_REQUIRED/.test(d)) {
    return {
      message: `${where}: the node asks for a client certificate${target.insecure ? " (it is not in maintenance mode)" : ""}: ${said}\n  use a context with one (\`bunkerctl gen config\`, then \`bunkerctl config merge\`), or --insecure only for a node in maintenance mode`,
      exit: EXIT.DENIED,
    };
  }
  if (TLS_SERVER_UNTRUSTED.test(d)) {
    return {
      message: `${where}: the node's certificate is not trusted by the context's CA: ${said}\n  is this the right cluster and context? a node in maintenance mode has a self-signed certificate: use --insecure`,
      exit: EXIT.DENIED,
    };
  }
  // A refused client certificate shows as a TLS alert, a close before HTTP/2 began, or (when
  // the alert is lost in the race) a reset; our own check of the certificate tells which.
  const handshakeRefused = err.connection?.refusedAfterHandshake === true;
  const problems = /ECONNRESET/.test(d) || TLS_CLIENT_REFUSED.test(d) || handshakeRefused ? certificateProblems(target) : [];
  if (TLS_CLIENT_REFUSED.test(d) || handshakeRefused || problems.length) {
    return {
      message: `${where}: the node closed the connection after the TLS handshake: it refused the client certificate` +
        (problems.length ? `: ${problems.join("; ")}` : " (is it signed by this cluster's CA? a rotated CA?)") +
        `\n  get a new one with \`bunkerctl gen config\` or from an admin`,
      exit: EXIT.DENIED,
    };
  }
  if (closedDuringCall(err) || reasonOf(err) === REASON.closed) {
    return { message: `${where}: the node closed the connection during the call: is it restarting, rebooting or shutting down? (${said})`, exit: EXIT.UNREACHABLE };
  }
  if (NOT_REACHED.test(d)) {
    const why = /ENOTFOUND|EAI_AGAIN/.test(d) ? "the name does not resolve" : /ECONNREFUSED/.test(d) ? "connection refused" : "not reachable";
    return { message: `${where}: ${why} (${d.replace(/^.*caused by: /, "").replace(/\)$/, "")}): is the node up, and is the endpoint right (-e, \`bunkerctl config endpoint\`)?`, exit: EXIT.UNREACHABLE };
  }
  return { message: `${where}: ${said}`, exit: EXIT.UNREACHABLE };
}
