import { clientConfigToYaml, parseClientConfig } from "../../../core/clientconfig/clientconfig.ts";
import { MachineService as M } from "../../../core/api/gen/services.ts";
import { usageError } from "../args.ts";
import { parseDuration } from "../client/output.ts";
import { CONNECT_HELP, runRemote } from "../client/remote.ts";
import { splitList } from "../client/target.ts";
import { writeNewFiles } from "../write-files.ts";

const HELP = `Usage: bunkerctl config new [PATH] --roles ROLE[,ROLE] [--crt-ttl DURATION] [--name CONTEXT]
                           [--force] [connection flags]

Asks a control-plane node (os:admin) for a new client certificate with the given roles, signed
by the cluster CA, and writes a client config holding it to PATH (default ./bunkerconfig, 0600;
not replaced without --force). Its context points at the endpoints and nodes this call used.
Give it to someone who should only read (os:reader) or operate (os:operator).

Options:
  --roles ROLE[,ROLE]          os:admin, os:operator, os:reader, os:etcd:backup
  --crt-ttl DURATION           certificate lifetime, e.g. 24h, 720h (default: the node's, 1 year)
  --name CONTEXT               the context's name (default: the cluster's name)
  --force                      replace PATH if it exists

${CONNECT_HELP}

Example:
  bunkerctl config new reader.bunkerconfig --roles os:reader --crt-ttl 720h
  bunkerctl --bunkerconfig reader.bunkerconfig services`;

export function run(argv: string[]): Promise<number> {
  const options = { roles: { type: "string", multiple: true }, "crt-ttl": { type: "string" }, name: { type: "string" }, force: { type: "boolean" } } as const;
  return runRemote(argv, HELP, options, [0, 1], async (a, r) => {
    const roles = splitList(a.values.roles);
    if (!roles.length) return usageError(HELP, "--roles is required (os:admin, os:operator, os:reader, os:etcd:backup)");
    const ttl = a.values["crt-ttl"] === undefined ? 0 : parseDuration(a.values["crt-ttl"]);
    if (ttl === undefined || ttl < 0) return usageError(HELP, `--crt-ttl ${a.values["crt-ttl"]}: expected a duration such as 24h`);
    // One certificate, from one node: several would only differ in serial.
    if (r.dests.length !== 1) return usageError(HELP, `config new asks one node, got ${r.dests.length} (${r.dests.map((d) => d.label).join(", ")})`);
    const res = await r.api.unary(M.GenerateClientConfiguration, { roles, ttlSeconds: Math.round(ttl / 1000), context: a.values.name ?? "" }, r.dests[0]!);
    const cfg = parseClientConfig(Buffer.from(res.bunkerconfig ?? []).toString("utf8"), "the node's answer");
    const ctx = cfg.contexts[cfg.context]!;
    const t = r.target;
    cfg.contexts[cfg.context] = { ...ctx, endpoints: t.endpoints, nodes: t.nodes.length ? t.nodes : t.endpoints };
    writeNewFiles([{ path: a.positionals[0] ?? "bunkerconfig", content: clientConfigToYaml(cfg), mode: 0o600 }], a.values.force === true);
    return 0;
  });
}
