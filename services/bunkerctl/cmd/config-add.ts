import { readFileSync } from "node:fs";
import { addContext, type ClientContext } from "../../../core/clientconfig/clientconfig.ts";
import { fromPemPair } from "../../../core/pki/issue.ts";
import { loadCertificate, signingProblems } from "../../../core/pki/x509.ts";
import { BUNKERCONFIG_HELP, BUNKERCONFIG_OPTION, clientConfigPath, fail, parseCommandArgs, usageError } from "../args.ts";
import { editClientConfig } from "../clientconfig-cmd.ts";

const HELP = `Usage: bunkerctl config add NAME --endpoints ADDR[,ADDR] --ca FILE --crt FILE --key FILE [--nodes NODE[,NODE]] [--force] [--bunkerconfig PATH]

Adds a context to the client config (created if needed) from PEM files: the cluster CA, a client
certificate (\`bunkerctl gen crt\`, or from an admin) and its key. Checked before anything is
written: the key must be the certificate's and the certificate signed by the CA. It becomes the
current context only when there is none (\`bunkerctl config context NAME\` chooses).

Options:
  -e, --endpoints ADDR[,ADDR]  API addresses to dial (required)
  -n, --nodes NODE[,NODE]      default nodes to act on
  --ca FILE                    the cluster CA certificate (PEM)
  --crt FILE                   the client certificate (PEM)
  --key FILE                   the client certificate's private key (PEM)
  --force                      replace a context of that name
${BUNKERCONFIG_HELP}

Example:
  bunkerctl config add prod -e 10.5.0.2 -n 10.5.0.2,10.5.0.3 --ca ca.crt --crt admin.crt --key admin.key`;

const list = (v: string[] | undefined) => (v ?? []).flatMap((x) => x.split(",")).map((s) => s.trim()).filter((s) => s !== "");

function readPem(flag: string, path: string | undefined): string {
  if (path === undefined) throw new Error(`--${flag} FILE is required`);
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new Error(`--${flag} ${path}: cannot read it: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

export function run(argv: string[]): number {
  const options = {
    ...BUNKERCONFIG_OPTION, endpoints: { type: "string", short: "e", multiple: true }, nodes: { type: "string", short: "n", multiple: true },
    ca: { type: "string" }, crt: { type: "string" }, key: { type: "string" }, force: { type: "boolean" },
  } as const;
  const a = parseCommandArgs(argv, HELP, options, [1, 1]);
  if (typeof a === "number") return a;
  const v = a.values;
  const endpoints = list(v.endpoints);
  if (endpoints.length === 0) return usageError(HELP, "--endpoints ADDR[,ADDR] is required: the API addresses to dial");
  let ctx: ClientContext;
  try {
    const ca = readPem("ca", v.ca);
    const crt = readPem("crt", v.crt);
    const key = readPem("key", v.key);
    const caCert = loadCertificate(ca, `--ca ${v.ca}`);
    const pair = fromPemPair({ crt, key }, `--crt ${v.crt} and --key ${v.key}`);
    // A certificate of another cluster would only fail later, at the first call, as a TLS alert.
    const chain = signingProblems(pair.certificate, caCert);
    if (chain.length) throw new Error(`--crt ${v.crt} was not issued by --ca ${v.ca}: ${chain.join("; ")}`);
    if (new Date() > pair.certificate.notAfter) console.error(`warning: --crt ${v.crt} expired at ${pair.certificate.notAfter.toISOString()}`);
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    ctx = { endpoints, nodes: list(v.nodes), ca: b64(ca), crt: b64(crt), key: b64(key) };
  } catch (e) {
    return fail(e);
  }
  const name = a.positionals[0]!;
  const path = clientConfigPath(v.bunkerconfig);
  return editClientConfig(path, (c) => {
    const replaced = Object.hasOwn(c.contexts, name);
    const config = addContext(c, name, ctx, { replace: v.force === true });
    return { config, message: `${replaced ? "replaced" : "added"} context "${name}" (endpoints ${endpoints.join(", ")})\ncurrent context: ${config.context}\nwrote ${path}` };
  }, true);
}
