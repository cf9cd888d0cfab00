import { generateKey, privateKeyPem, type KeyAlgorithm } from "../../../core/pki/keys.ts";
import { fail, parseCommandArgs, usageError } from "../args.ts";
import { writeNewFiles } from "../write-files.ts";

const HELP = `Usage: bunkerctl gen key [--algorithm ed25519|ecdsa-p256] [-o key.pem] [--force]

Generates a private key (PKCS#8 PEM, mode 0600), e.g. for "bunkerctl gen csr".

Options:
  --algorithm ALG     ed25519 (default; API and node certificates) or ecdsa-p256 (etcd)
  -o, --output PATH   where to write (default key.pem)
  --force             replace an existing file`;

export function parseAlgorithm(value: string | undefined, help: string): KeyAlgorithm | number {
  const alg = value ?? "ed25519";
  if (alg === "ed25519" || alg === "ecdsa-p256") return alg;
  return usageError(help, `unknown algorithm "${alg}" (ed25519 or ecdsa-p256)`);
}

export function run(argv: string[]): number {
  const a = parseCommandArgs(argv, HELP, { algorithm: { type: "string" }, output: { type: "string", short: "o" }, force: { type: "boolean" } });
  if (typeof a === "number") return a;
  const alg = parseAlgorithm(a.values.algorithm, HELP);
  if (typeof alg === "number") return alg;
  try {
    writeNewFiles([{ path: a.values.output ?? "key.pem", content: privateKeyPem(generateKey(alg)) }], a.values.force ?? false);
  } catch (e) {
    return fail(e);
  }
  return 0;
}
