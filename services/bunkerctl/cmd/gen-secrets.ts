import { generateSecrets, secretsToYaml } from "../../../core/secrets/secrets.ts";
import { fail, parseCommandArgs } from "../args.ts";
import { writeNewFiles } from "../write-files.ts";

const HELP = `Usage: bunkerctl gen secrets [-o secrets.yaml] [--force]

Generates a new secrets bundle: the cluster CA (Ed25519, 10 years), the etcd CA (ECDSA P-256,
10 years), the join token and the cluster id and secret. The file is written with mode 0600;
it holds every CA key, so keep it private. Feed it to "bunkerctl gen config --with-secrets".

Options:
  -o, --output PATH   where to write (default secrets.yaml)
  --force             replace an existing file`;

export function run(argv: string[]): number {
  const a = parseCommandArgs(argv, HELP, { output: { type: "string", short: "o" }, force: { type: "boolean" } });
  if (typeof a === "number") return a;
  const path = a.values.output ?? "secrets.yaml";
  try {
    writeNewFiles([{ path, content: secretsToYaml(generateSecrets()) }], a.values.force ?? false);
  } catch (e) {
    return fail(e);
  }
  return 0;
}
