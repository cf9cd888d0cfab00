import { readFileSync } from "node:fs";
import { createCsr, csrPem } from "../../../core/pki/csr.ts";
import { splitSans } from "../../../core/pki/issue.ts";
import { loadPrivateKey } from "../../../core/pki/keys.ts";
import { fail, parseCommandArgs, usageError } from "../args.ts";
import { writeNewFiles } from "../write-files.ts";

const HELP = `Usage: bunkerctl gen csr --key key.pem --name CN [--roles ROLE,...] [--sans NAME,...] [-o csr.pem] [--force]

Generates a PKCS#10 certificate request signed with the key. Roles (Subject O) in a request are
only a wish: signers grant roles themselves ("gen crt --roles"; trustd grants none).

Options:
  --key PATH          the private key (see "bunkerctl gen key")
  --name CN           the Subject CN
  --roles LIST        Subject O values, e.g. os:reader (repeatable, or comma-separated)
  --sans LIST         DNS names and IP addresses (repeatable, or comma-separated)
  -o, --output PATH   where to write (default csr.pem)
  --force             replace an existing file`;

export const splitList = (l: string[] | undefined): string[] => (l ?? []).flatMap((s) => s.split(",")).map((s) => s.trim()).filter((s) => s !== "");

export function run(argv: string[]): number {
  const a = parseCommandArgs(argv, HELP, {
    key: { type: "string" }, name: { type: "string" }, roles: { type: "string", multiple: true }, sans: { type: "string", multiple: true },
    output: { type: "string", short: "o" }, force: { type: "boolean" },
  });
  if (typeof a === "number") return a;
  const { key, name } = a.values;
  if (!key || !name) return usageError(HELP, "--key and --name are required");
  try {
    const k = loadPrivateKey(readFileSync(key, "utf8"), key);
    const csr = createCsr({ subject: { commonName: name, organizations: splitList(a.values.roles) }, key: k, altNames: splitSans(splitList(a.values.sans)) });
    writeNewFiles([{ path: a.values.output ?? "csr.pem", content: csrPem(csr), mode: 0o644 }], a.values.force ?? false);
  } catch (e) {
    return fail(e);
  }
  return 0;
}
