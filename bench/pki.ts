/**
 * The PKI's speed: certificates issued and parsed per second, request signing, and the wall
 * time of `bunkerctl gen config` (in process, and through the compiled binary when built).
 * Usage: bun bench/pki.ts [--runs N]. Writes bench/results/pki.md.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createCsr } from "../core/pki/csr.ts";
import { issueAdminCert, issueEtcdCert, issueNodeServerCert, LIFETIME, newClusterCA, newEtcdCA, signCsr } from "../core/pki/issue.ts";
import { generateKey } from "../core/pki/keys.ts";
import { parseCertificate } from "../core/pki/x509.ts";
import { generateConfigs } from "../core/genconfig/genconfig.ts";
import { generateSecrets } from "../core/secrets/secrets.ts";
import { median, root, timeCommand, writeResults } from "./lib.ts";

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf("--runs") + 1] ?? 0) || 20;

/** Calls f repeatedly for about `ms` (at least 20 times); returns operations per second. */
function rate(f: () => unknown, ms = 500): number {
  for (let i = 0; i < 5; i++) f(); // warm-up
  let n = 0;
  const t0 = performance.now();
  while (n < 20 || performance.now() - t0 < ms) {
    f();
    n++;
  }
  return (n * 1000) / (performance.now() - t0);
}

const ca = newClusterCA();
const etcdCa = newEtcdCA();
const admin = issueAdminCert(ca);
const csr = createCsr({ subject: { commonName: "worker1" }, key: generateKey("ed25519"), altNames: { dns: ["worker1"], ips: ["10.5.0.3"] } });

const lines = ["| operation | per second |", "|---|---|"];
const ops: [string, () => unknown][] = [
  ["Ed25519 admin certificate (new key + sign)", () => issueAdminCert(ca)],
  ["Ed25519 node server certificate, 4 SANs (new key + sign)", () => issueNodeServerCert(ca, { hostname: "node1", sans: ["10.5.0.2", "fd00::2", "node1.example.com"] })],
  ["ECDSA P-256 etcd certificate (new key + sign)", () => issueEtcdCert(etcdCa, { hostname: "node1", sans: ["10.5.0.2"] })],
  ["sign a node's CSR (verify + sign, no keygen)", () => signCsr(ca, csr, { usage: ["serverAuth"], lifetime: LIFETIME.node })],
  ["parse a certificate (our DER reader)", () => parseCertificate(admin.certificate.der)],
  ["new cluster CA (Ed25519)", () => newClusterCA()],
  ["new etcd CA (ECDSA P-256)", () => newEtcdCA()],
];
for (const [name, f] of ops) lines.push(`| ${name} | ${Math.round(rate(f)).toLocaleString("en")} |`);

const genMs: number[] = [];
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  generateConfigs({ clusterName: "demo", endpoint: "https://10.5.0.2:50000", secrets: generateSecrets() });
  genMs.push(performance.now() - t0);
}
lines.push("", `\`gen config\` work in process (secrets + 2 configs + admin cert + YAML), median of ${runs}: ${median(genMs).toFixed(2)} ms`);

const bin = resolve(root, "out/bunker");
if (existsSync(bin)) {
  const tmp = mkdtempSync(join(tmpdir(), "bunker-bench-pki-"));
  const ms: number[] = [];
  let peak = 0;
  for (let i = 0; i < runs; i++) {
    const r = timeCommand([bin, "ctl", "gen", "config", "demo", "https://10.5.0.2:50000", "--output-dir", join(tmp, String(i))], 1);
    ms.push(r.ms[0]!);
    peak = Math.max(peak, r.peakRssBytes);
  }
  rmSync(tmp, { recursive: true, force: true });
  lines.push(`\`bunker ctl gen config demo https://10.5.0.2:50000\` (compiled binary, process start to exit), median of ${runs}: ${median(ms).toFixed(1)} ms, peak RSS ${(peak / 1e6).toFixed(1)} MB`);
} else {
  lines.push("(out/bunker not built: the binary's `gen config` time was not measured)");
}
writeResults("pki", "PKI: certificate issue rate and gen config time", lines);
