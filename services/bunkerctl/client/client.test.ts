import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { saveClientConfig } from "../../../core/clientconfig/clientconfig.ts";
import { REASON } from "../../../core/errors.ts";
import { GrpcError, REASON_KEY, Status } from "../../../core/grpc/status.ts";
import { issueClientCert, issueLeaf, newClusterCA, toPemPair } from "../../../core/pki/issue.ts";
import { destinations } from "./api.ts";
import { certificateProblems, explain, WaitTimeout } from "./errors.ts";
import { EXIT } from "./exitcodes.ts";
import { parseDuration, parseFormat } from "./output.ts";
import { ConfigError, normalizeEndpoint, resolveTarget, sameHost } from "./target.ts";

const dir = mkdtempSync(join(tmpdir(), "bunker-client-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ca = newClusterCA();
const b64 = (s: string) => Buffer.from(s).toString("base64");
const admin = toPemPair(issueClientCert(ca, { commonName: "admin", roles: ["os:admin"], lifetime: 86_400_000 }));

function config(name: string, ctx: { endpoints?: string[]; nodes?: string[]; crt?: boolean } = {}): string {
  const path = join(dir, name);
  saveClientConfig(path, { context: "lab", contexts: { lab: { endpoints: ctx.endpoints ?? ["10.5.0.2"], nodes: ctx.nodes ?? [], ca: b64(toPemPair(ca).crt), crt: ctx.crt === false ? "" : b64(admin.crt), key: ctx.crt === false ? "" : b64(admin.key) } } });
  return path;
}

test("endpoints: default port 50000, IPv6 in brackets, URLs reduced to host:port, bad ones named", () => {
  expect(normalizeEndpoint("10.5.0.2")).toBe("10.5.0.2:50000");
  expect(normalizeEndpoint("node1:50001")).toBe("node1:50001");
  expect(normalizeEndpoint("fd00::2")).toBe("[fd00::2]:50000");
  expect(normalizeEndpoint("[::1]:7")).toBe("[::1]:7");
  expect(normalizeEndpoint("https://10.5.0.2:6443/")).toBe("10.5.0.2:6443");
  expect(() => normalizeEndpoint("10.5.0.2:99999")).toThrow("port must be 1-65535");
  expect(() => normalizeEndpoint("a b")).toThrow('"a b"');
  expect(sameHost("10.5.0.2", "10.5.0.2:50000")).toBe(true);
  expect(sameHost("10.5.0.3", "10.5.0.2:50000")).toBe(false);
});

test("the target: context, flags over context, nodes relayed unless the node is the endpoint, --insecure dials nodes", () => {
  const t = resolveTarget({}, config("c1", { nodes: ["10.5.0.2", "10.5.0.3"] }));
  expect({ ctx: t.context, ep: t.endpoints, insecure: t.insecure, cert: t.cert }).toEqual({ ctx: "lab", ep: ["10.5.0.2:50000"], insecure: false, cert: admin.crt });
  expect(destinations(t)).toEqual([
    { label: "10.5.0.2", node: "10.5.0.2", endpoints: ["10.5.0.2:50000"] },
    { label: "10.5.0.3", node: "10.5.0.3", endpoints: ["10.5.0.2:50000"] },
  ]);
  const f = resolveTarget({ endpoints: ["a,b:1"], nodes: ["n1"] }, config("c2"));
  expect([f.endpoints, f.nodes]).toEqual([["a:50000", "b:1"], ["n1"]]);
  expect(destinations(resolveTarget({}, config("c3")))).toEqual([{ label: "10.5.0.2", endpoints: ["10.5.0.2:50000"] }]);
  // Maintenance mode: no file needed, no certificate, each node dialled itself.
  const m = resolveTarget({ insecure: true, nodes: ["10.5.0.9", "10.5.0.10"] }, join(dir, "absent"));
  expect([m.cert, destinations(m)]).toEqual([undefined, [
    { label: "10.5.0.9", endpoints: ["10.5.0.9:50000"] }, { label: "10.5.0.10", endpoints: ["10.5.0.10:50000"] },
  ]]);
  // --insecure -e with a context at hand: the context's default nodes are not asked for (a node
  // in maintenance mode relays to nobody and would refuse them).
  const e = resolveTarget({ insecure: true, endpoints: ["127.0.0.1:41000"] }, config("c5", { nodes: ["10.5.0.2"] }));
  expect(destinations(e)).toEqual([{ label: "127.0.0.1:41000", endpoints: ["127.0.0.1:41000"] }]);
});

test("the target's errors say what to do next", () => {
  expect(() => resolveTarget({}, join(dir, "absent"))).toThrow(/no client config at .*bunkerctl gen config.*--insecure/);
  expect(() => resolveTarget({}, config("nocert", { crt: false }))).toThrow('has no client certificate: generate one with "bunkerctl gen config"');
  expect(() => resolveTarget({ context: "prod" }, config("c4"))).toThrow('no context "prod"');
  expect(() => resolveTarget({}, config("noep", { endpoints: [] }))).toThrow("no endpoint to connect to: give -e/--endpoints");
  expect(() => resolveTarget({}, config("noep", { endpoints: [] }))).toThrow(ConfigError);
});

test("explain: statuses to exit codes and advice", () => {
  const t = resolveTarget({}, config("c5"));
  const x = (code: number, msg: string) => explain(new GrpcError(code, msg), t, "n1");
  // The advice follows the reason the node sent, not the words of the message.
  const missingRole = new GrpcError(Status.PERMISSION_DENIED, "Reboot needs one of os:admin, os:operator; the caller has os:reader", { [REASON_KEY]: REASON.missingRole });
  expect(explain(missingRole, t, "n1")).toEqual({
    exit: EXIT.DENIED, message: "n1: permission denied: Reboot needs one of os:admin, os:operator; the caller has os:reader\n  ask an admin for a certificate with one of those roles (`bunkerctl config info` shows yours)",
  });
  expect(x(Status.PERMISSION_DENIED, "a path outside the readable roots").message).toBe("n1: permission denied: a path outside the readable roots");
  expect(x(Status.NOT_FOUND, "no such service").exit).toBe(EXIT.FAILED);
  expect(x(Status.UNAVAILABLE, "/p: connect ECONNREFUSED 10.5.0.2:50000").message).toContain("connection refused");
  expect(x(Status.UNAVAILABLE, "/p: getaddrinfo ENOTFOUND nodex").message).toContain("the name does not resolve");
  expect(x(Status.DEADLINE_EXCEEDED, "deadline of 30000 ms exceeded").exit).toBe(EXIT.UNREACHABLE);
  expect(x(Status.UNAVAILABLE, "/p: TLSV1_ALERT_CERTIFICATE_REQUIRED").exit).toBe(EXIT.DENIED);
  expect(x(Status.UNAVAILABLE, "The pending stream has been canceled (caused by: self signed certificate in certificate chain)").message).toContain("use --insecure");
  const closed = explain(new GrpcError(Status.UNAVAILABLE, "connection closed before the call ended", {}, { beforeHandshake: false, closedDuringCall: true }), t, "n1");
  expect(closed.exit).toBe(EXIT.UNREACHABLE);
  expect(closed.message).toContain("the node closed the connection during the call");
  // apid's own connection to init closed: its reason says so.
  expect(explain(new GrpcError(Status.UNAVAILABLE, "connection closed before the call ended", { [REASON_KEY]: REASON.closed }), t, "n1").message).toContain("during the call");
  expect(explain(new WaitTimeout("gave up"), t, "n1")).toEqual({ exit: EXIT.TIMEOUT, message: "n1: gave up" });
});

test("certificateProblems: expiry, EKU and issuer, checked locally", () => {
  const other = newClusterCA();
  const pem = (c: Parameters<typeof toPemPair>[0]) => toPemPair(c).crt;
  const caPem = toPemPair(ca).crt;
  expect(certificateProblems({ ca: caPem, cert: admin.crt })).toEqual([]);
  const expired = pem(issueClientCert(ca, { commonName: "x", roles: [], lifetime: 1000, now: new Date(Date.now() - 86_400_000) }));
  expect(certificateProblems({ ca: caPem, cert: expired })[0]).toStartWith("it expired at ");
  const server = pem(issueLeaf(ca, { commonName: "x", lifetime: 86_400_000, usage: ["serverAuth"] }));
  expect(certificateProblems({ ca: caPem, cert: server })).toEqual(["it lacks extended key usage clientAuth"]);
  const foreign = pem(issueClientCert(other, { commonName: "x", roles: [], lifetime: 86_400_000 }));
  expect(certificateProblems({ ca: caPem, cert: foreign })[0]).toStartWith("it was not issued by the context's CA");
});

test("output helpers: durations and formats", () => {
  expect([parseDuration("30"), parseDuration("1m30s"), parseDuration("500ms"), parseDuration("2h"), parseDuration("soon"), parseDuration("")]).toEqual([30_000, 90_000, 500, 7_200_000, undefined, undefined]);
  expect([parseFormat(undefined), parseFormat("text"), parseFormat("json"), parseFormat("yaml", ["table", "json", "yaml"])]).toEqual(["table", "table", "json", "yaml"]);
  expect(parseFormat("xml")).toBe('unknown output format "xml" (table, json)');
});
