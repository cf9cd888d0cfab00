/** apid's certificates: the SANs follow the node's addresses (checked with openssl, not our parser). */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { ApiCertificates } from "./apicerts.ts";
import { ManualClock } from "../../core/time/clock.ts";
import { loadCertificate } from "../../core/pki/x509.ts";
import { NOT_BEFORE_SKEW } from "../../core/pki/issue.ts";

const dir = mkdtempSync(join(tmpdir(), "bunker-apicerts-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sans = (file: string) =>
  Bun.spawnSync(["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", file]).stdout.toString().trim().split("\n").pop()!.split(", ").map((s) => s.trim());

test("the server certificate names the node's addresses; a change of them is noticed, and re-issuing names the new ones", () => {
  let addresses = ["127.0.0.1", "::1"];
  const certs = new ApiCertificates({ dir, addresses: () => addresses });
  try {
    expect(certs.issue(undefined, "node1")).toBe("maintenance");
    expect(sans(certs.path("cert")).sort()).toEqual(["DNS:localhost", "DNS:node1", "IP Address:0:0:0:0:0:0:0:1", "IP Address:127.0.0.1"]);
    expect(certs.addressesChanged()).toBe(false);
    addresses = ["::1", "127.0.0.1"]; // the same set in another order is no change
    expect(certs.addressesChanged()).toBe(false);
    addresses = ["127.0.0.1", "::1", "10.5.0.12"];
    expect(certs.addressesChanged()).toBe(true);
    certs.issue(undefined, "node1");
    expect(sans(certs.path("cert"))).toContain("IP Address:10.5.0.12");
    expect(certs.addressesChanged()).toBe(false);
  } finally {
    certs.stop();
  }
});

test("renewal comes at half the lifetime on the clock, with validity counted from the clock; a failed one is tried again", () => {
  const HOUR = 3_600_000;
  const clock = new ManualClock(Date.parse("2030-01-01T00:00:00Z"));
  let renewed = 0;
  const errors: string[] = [];
  let broken = false;
  const certs = new ApiCertificates({
    dir: join(dir, "renew"), lifetimeMs: 24 * HOUR, clock,
    addresses: () => { if (broken) throw new Error("addresses unreadable"); return ["127.0.0.1"]; },
    onRenewed: () => renewed++, onError: (e) => errors.push((e as Error).message),
  });
  const validity = () => {
    const c = loadCertificate(readFileSync(certs.path("cert"), "utf8"));
    return { from: c.notBefore.getTime() + NOT_BEFORE_SKEW, until: c.notAfter.getTime() };
  };
  try {
    certs.issue(undefined, "node1");
    expect(validity()).toEqual({ from: clock.now(), until: clock.now() + 24 * HOUR });
    expect(clock.pending()).toEqual([12 * HOUR]);
    clock.advance(12 * HOUR - 1);
    expect(renewed).toBe(0);
    clock.advance(1);
    expect(renewed).toBe(1);
    expect(validity()).toEqual({ from: clock.now(), until: clock.now() + 24 * HOUR });
    // A renewal that fails keeps the certificate and is tried again a minute later.
    broken = true;
    const before = readFileSync(certs.path("cert"), "utf8");
    clock.advance(12 * HOUR);
    expect(errors).toEqual(["addresses unreadable"]);
    expect(readFileSync(certs.path("cert"), "utf8")).toBe(before);
    expect(clock.pending()).toEqual([60_000]);
    broken = false;
    clock.advance(60_000);
    expect(renewed).toBe(2);
    expect(clock.pending()).toEqual([12 * HOUR]);
    certs.stop();
    expect(clock.pending()).toEqual([]);
  } finally {
    certs.stop();
  }
});
