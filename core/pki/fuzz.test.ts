// Bounded mutation fuzz of the readers that will face the network (certificates from TLS peers,
// requests sent to trustd): every input is either read or refused with a DER error; no other
// exception (TypeError, RangeError) may escape, and nothing may hang.
import { expect, test } from "bun:test";
import { createCsr } from "./csr.ts";
import { parseCsr } from "./csr.ts";
import { DerError } from "./der.ts";
import { issueEtcdCert, issueNodeServerCert, newClusterCA, newEtcdCA } from "./issue.ts";
import { generateKey } from "./keys.ts";
import { parseCertificate } from "./x509.ts";

/** A small deterministic PRNG (xorshift32) so a failure can be replayed from its seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

function mutate(input: Uint8Array, r: () => number): Uint8Array {
  const b = Array.from(input);
  const edits = 1 + Math.floor(r() * 4);
  for (let e = 0; e < edits; e++) {
    const i = Math.floor(r() * b.length);
    switch (Math.floor(r() * 5)) {
      case 0: b[i] = Math.floor(r() * 256); break; // replace a byte
      case 1: b[i] = b[i]! ^ (1 << Math.floor(r() * 8)); break; // flip a bit
      case 2: b.splice(i, 1 + Math.floor(r() * 8)); break; // delete
      case 3: b.splice(i, 0, ...Array.from({ length: 1 + Math.floor(r() * 8) }, () => Math.floor(r() * 256))); break; // insert
      default: b.length = i; // truncate
    }
  }
  return Uint8Array.from(b);
}

function fuzz(name: string, seeds: Uint8Array[], parse: (b: Uint8Array) => unknown, rounds: number) {
  const r = rng(0xb0c4e7 + name.length);
  let accepted = 0;
  let refused = 0;
  for (let n = 0; n < rounds; n++) {
    const input = mutate(seeds[n % seeds.length]!, r);
    try {
      parse(input);
      accepted++;
    } catch (e) {
      if (!(e instanceof DerError)) throw new Error(`${name} round ${n}: ${(e as Error).name}: ${(e as Error).message}\ninput ${Buffer.from(input).toString("hex")}`);
      refused++;
    }
  }
  return { accepted, refused };
}

test("certificates: 20000 mutations are read or refused with a DerError", () => {
  const ca = newClusterCA();
  const seeds = [
    ca.certificate.der,
    issueNodeServerCert(ca, { hostname: "n1", sans: ["10.0.0.1", "fd00::1", "n1.example"] }).certificate.der,
    issueEtcdCert(newEtcdCA(), { hostname: "e1", sans: ["10.0.0.2"] }).certificate.der,
  ];
  const r = fuzz("certificate", seeds, parseCertificate, 20000);
  expect(r.refused).toBeGreaterThan(r.accepted); // most damage must be noticed
}, 60_000);

test("certificate requests: 10000 mutations are read or refused with a DerError", () => {
  const seeds = [createCsr({ subject: { commonName: "w1", organizations: ["os:admin"] }, key: generateKey("ed25519"), altNames: { dns: ["w1"], ips: ["10.0.0.3"] } }).der];
  const r = fuzz("request", seeds, parseCsr, 10000);
  expect(r.refused).toBeGreaterThan(0);
}, 60_000);
