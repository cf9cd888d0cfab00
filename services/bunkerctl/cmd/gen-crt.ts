import { readFileSync } from "node:fs";
import { loadCsr, verifyCsr } from "../../../core/pki/csr.ts";
import { fromPemPair, issueLeaf, LIFETIME } from "../../../core/pki/issue.ts";
import { publicKeyFromSpki } from "../../../core/pki/keys.ts";
import { certificatePem, type ExtKeyUsage } from "../../../core/pki/x509.ts";
import { fail, parseCommandArgs, usageError } from "../args.ts";
import { writeNewFiles } from "../write-files.ts";
import { parseHours } from "./gen-ca.ts";
import { splitList } from "./gen-csr.ts";

const HELP = `Usage: bunkerctl gen crt --ca PREFIX --csr csr.pem [--roles ROLE,...] [--hours N] [--usage client|server|both] [-o crt.pem] [--force]

Signs a certificate request with a CA (PREFIX.crt and PREFIX.key, e.g. from "gen ca"; for the
cluster CA, write certs.os of secrets.yaml out as PEM files). The CN and SANs come from the
request; the roles (Subject O) come only from --roles, never from the request.

Options:
  --ca PREFIX         the CA files PREFIX.crt and PREFIX.key
  --csr PATH          the request (see "bunkerctl gen csr")
  --roles LIST        roles to grant, e.g. os:reader (repeatable, or comma-separated)
  --hours N           lifetime in hours (default 8760, 1 year)
  --usage U           client (default), server, or both
  -o, --output PATH   where to write (default crt.pem)
  --force             replace an existing file`;

const USAGES: Record<string, ExtKeyUsage[]> = { client: ["clientAuth"], server: ["serverAuth"], both: ["serverAuth", "clientAuth"] };

export function run(argv: string[]): number {
  const a = parseCommandArgs(argv, HELP, {
    ca: { type: "string" }, csr: { type: "string" }, roles: { type: "string", multiple: true }, hours: { type: "string" },
    usage: { type: "string" }, output: { type: "string", short: "o" }, force: { type: "boolean" },
  });
  if (typeof a === "number") return a;
  const v = a.values;
  if (!v.ca || !v.csr) return usageError(HELP, "--ca and --csr are required");
  const usage = USAGES[v.usage ?? "client"];
  if (!usage) return usageError(HELP, `--usage must be client, server or both, got "${v.usage}"`);
  const hours = parseHours(v.hours, LIFETIME.admin / 3600_000, HELP);
  if (typeof hours !== "number") return hours.error;
  try {
    const ca = fromPemPair({ crt: readFileSync(`${v.ca}.crt`, "utf8"), key: readFileSync(`${v.ca}.key`, "utf8") }, `CA ${v.ca}`);
    const csr = loadCsr(readFileSync(v.csr, "utf8"), v.csr);
    if (!verifyCsr(csr)) throw new Error(`${v.csr}: the request's signature does not match its key`);
    if (!csr.subject.commonName) throw new Error(`${v.csr}: the request has no CN`);
    const crt = issueLeaf(ca, {
      commonName: csr.subject.commonName,
      roles: splitList(v.roles),
      sans: [...csr.extensions.altNames.dns, ...csr.extensions.altNames.ips],
      lifetime: hours * 3600_000,
      usage,
      key: publicKeyFromSpki(csr.publicKey.spki),
    }).certificate;
    writeNewFiles([{ path: v.output ?? "crt.pem", content: certificatePem(crt), mode: 0o644 }], v.force ?? false);
  } catch (e) {
    return fail(e);
  }
  return 0;
}
