import { readdirSync } from "node:fs";
import { join } from "node:path";
import { listNetns, netnsPids, planNamespaces } from "../../../core/cluster/netsetup.ts";
import { defaultStateRoot, loadState } from "../../../core/cluster/state.ts";
import { BUNKERCONFIG_OPTION, outputFormat, OUTPUT_OPTION, parseCommandArgs } from "../args.ts";
import { EXIT } from "../client/exitcodes.ts";
import { formatTable } from "../../../core/format/table.ts";
import { pidAlive } from "../../../core/sys/process.ts";

const HELP = `Usage: bunkerctl cluster show [--name NAME] [--state DIR] [-o text|json]

Shows the local clusters "cluster create" made (or one, with --name): each node's role, address,
whether its init is running, how the host reaches it, and where its console log is.

Options:
  --name NAME      only this cluster
  --state DIR      where clusters live (default $BUNKER_CLUSTERS, else /var/lib/bunker/clusters)
  -o FORMAT        text (default) or json`;


export function run(argv: string[]): number {
  const a = parseCommandArgs(argv, HELP, { name: { type: "string" }, state: { type: "string" }, ...OUTPUT_OPTION, ...BUNKERCONFIG_OPTION }, [0, 0]);
  if (typeof a === "number") return a;
  const format = outputFormat(a.values.output, HELP);
  if (typeof format === "number") return format;
  const root = a.values.state ?? defaultStateRoot();
  let names: string[];
  try { names = a.values.name ? [a.values.name] : readdirSync(root).sort(); } catch { names = []; }
  const nsNow = new Set(listNetns());
  const clusters = names.flatMap((name) => {
    const dir = join(root, name);
    const s = loadState(dir);
    if (!s) return [];
    return [{
      name, dir, provisioner: s.provisioner, cidr: s.plan.cidr, createdAt: s.createdAt,
      nodes: s.plan.nodes.map((n) => {
        const pid = s.nodes.find((x) => x.name === n.name)?.pid;
        const port = s.forwarder?.ports[n.name];
        return { name: n.name, role: n.role, address: n.address, running: pidAlive(pid) && planNamespaces(s.plan, s.provisioner).some((ns) => nsNow.has(ns) && netnsPids(ns).includes(pid!)), pid, api: port ? `127.0.0.1:${port}` : undefined, console: join(dir, "nodes", n.name, "console.log") };
      }),
    }];
  });
  if (a.values.name && clusters.length === 0) { console.error(`error: no cluster ${a.values.name} under ${root}`); return EXIT.FAILED; }
  if (format === "json") { console.log(JSON.stringify(clusters, null, 2)); return EXIT.OK; }
  if (clusters.length === 0) { console.log(`no clusters under ${root}`); return EXIT.OK; }
  for (const c of clusters) {
    console.log(`cluster ${c.name} (${c.provisioner}, ${c.cidr}, created ${c.createdAt}) in ${c.dir}`);
    console.log(formatTable(["NAME", "ROLE", "ADDRESS", "STATE", "API FROM THE HOST"],
      c.nodes.map((n) => [n.name, n.role, n.address, n.running ? "running" : "stopped", n.role === "controlplane" && n.api ? n.api : "through a control plane"])));
  }
  return EXIT.OK;
}
