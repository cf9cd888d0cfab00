/** apid's certificates: the SANs follow the node's addresses (checked with openssl, not our parser). */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ApiCertificates } from "./apicerts.ts";

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
