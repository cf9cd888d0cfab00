import { currentContext } from "../../../core/clientconfig/clientconfig.ts";
import { loadCertificate, formatName } from "../../../core/pki/x509.ts";
import { BUNKERCONFIG_HELP, fail } from "../args.ts";
import { readClientConfigForOutput } from "../clientconfig-cmd.ts";

const HELP = `Usage: bunkerctl config info [-o text|json] [--bunkerconfig PATH]

Shows the current context: its endpoints and nodes, and what its client certificate says
(subject, roles, issuer, validity).

Options:
  -o, --output FORMAT   text (default) or json
${BUNKERCONFIG_HELP}`;

const pem = (b64: string) => Buffer.from(b64, "base64").toString("utf8");

export function run(argv: string[]): number {
  const r = readClientConfigForOutput(argv, HELP);
  if (typeof r === "number") return r;
  const format = r.format;
  let info;
  try {
    const { name, ctx } = currentContext(r.config);
    const crt = ctx.crt ? loadCertificate(pem(ctx.crt), `context "${name}" crt`) : undefined;
    info = {
      context: name,
      endpoints: ctx.endpoints,
      nodes: ctx.nodes,
      ...(crt ? {
        certificate: {
          subject: formatName(crt.subject),
          roles: crt.roles,
          issuer: formatName(crt.issuer),
          notBefore: crt.notBefore.toISOString(),
          notAfter: crt.notAfter.toISOString(),
          expired: crt.notAfter.getTime() < Date.now(),
        },
      } : {}),
    };
  } catch (e) {
    return fail(e);
  }
  if (format === "json") {
    console.log(JSON.stringify(info, null, 2));
    return 0;
  }
  const c = info.certificate;
  console.log([
    `Current context:  ${info.context}`,
    `Endpoints:        ${info.endpoints.join(", ") || "(none)"}`,
    `Nodes:            ${info.nodes.join(", ") || "(none)"}`,
    ...(c ? [
      `Certificate:      ${c.subject}`,
      `  roles:          ${c.roles.join(", ") || "(none)"}`,
      `  issuer:         ${c.issuer}`,
      `  valid:          ${c.notBefore} to ${c.notAfter}${c.expired ? "  (EXPIRED)" : ""}`,
    ] : ["Certificate:      (none)"]),
  ].join("\n"));
  return 0;
}
