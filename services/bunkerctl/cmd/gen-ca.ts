import { newCA, toPemPair } from "../../../core/pki/issue.ts";
import { fail, parseCommandArgs, usageError } from "../args.ts";
import { writeNewFiles } from "../write-files.ts";
import { parseAlgorithm } from "./gen-key.ts";

const HELP = `Usage: bunkerctl gen ca --organization ORG [--name CN] [--hours N] [--algorithm ALG] [-o PREFIX] [--force]

Generates a self-signed CA (CA:TRUE, pathlen:0) and writes PREFIX.crt and PREFIX.key (0600).
"bunkerctl gen secrets" makes the cluster's CAs; this is for separate trust domains and tests.

Options:
  --organization ORG  the CA's Subject O (required)
  --name CN           the CA's Subject CN (default: ORG)
  --hours N           lifetime in hours (default 87600, 10 years)
  --algorithm ALG     ed25519 (default) or ecdsa-p256
  -o, --output PREFIX file name prefix (default ca)
  --force             replace existing files`;

export function parseHours(value: string | undefined, fallback: number, help: string): number | { error: number } {
  if (value === undefined) return fallback;
  const h = Number(value);
  if (!Number.isFinite(h) || h <= 0) return { error: usageError(help, `--hours must be a positive number, got "${value}"`) };
  return h;
}

export function run(argv: string[]): number {
  const a = parseCommandArgs(argv, HELP, {
    organization: { type: "string" }, name: { type: "string" }, hours: { type: "string" }, algorithm: { type: "string" },
    output: { type: "string", short: "o" }, force: { type: "boolean" },
  });
  if (typeof a === "number") return a;
  const org = a.values.organization;
  if (!org) return usageError(HELP, "--organization is required");
  const alg = parseAlgorithm(a.values.algorithm, HELP);
  if (typeof alg === "number") return alg;
  const hours = parseHours(a.values.hours, 87600, HELP);
  if (typeof hours !== "number") return hours.error;
  try {
    const pair = toPemPair(newCA({ organization: org, commonName: a.values.name ?? org, algorithm: alg, lifetime: hours * 3600_000 }));
    const prefix = a.values.output ?? "ca";
    writeNewFiles([{ path: `${prefix}.crt`, content: pair.crt, mode: 0o644 }, { path: `${prefix}.key`, content: pair.key }], a.values.force ?? false);
  } catch (e) {
    return fail(e);
  }
  return 0;
}
