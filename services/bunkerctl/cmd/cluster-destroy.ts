import { existsSync } from "node:fs";
import { join } from "node:path";
import { loadClientConfig, saveClientConfig } from "../../../core/clientconfig/clientconfig.ts";
import { destroyCluster } from "../../../core/cluster/destroy.ts";
import { listNetns } from "../../../core/cluster/netsetup.ts";
import { CLUSTER_NAME } from "../../../core/cluster/plan.ts";
import { defaultStateRoot, loadState } from "../../../core/cluster/state.ts";
import { BUNKERCONFIG_HELP, BUNKERCONFIG_OPTION, clientConfigPath, parseCommandArgs, usageError } from "../args.ts";
import { EXIT } from "../client/exitcodes.ts";

const HELP = `Usage: bunkerctl cluster destroy [--name NAME] [--state DIR]

Removes a local cluster made by "cluster create": stops every process in its network namespaces
(init and its services, SIGTERM then SIGKILL after 20 s), the port forwarder, deletes the
namespaces and the cluster's folder, and drops its context from the client config when it is
still the one create wrote. Works on a cluster whose create or processes crashed.

Options:
  --name NAME      the cluster (default bunker)
  --state DIR      where clusters live (default $BUNKER_CLUSTERS, else /var/lib/bunker/clusters)
${BUNKERCONFIG_HELP}`;

export async function run(argv: string[]): Promise<number> {
  const a = parseCommandArgs(argv, HELP, { name: { type: "string" }, state: { type: "string" }, ...BUNKERCONFIG_OPTION }, [0, 0]);
  if (typeof a === "number") return a;
  const name = a.values.name ?? "bunker";
  if (!CLUSTER_NAME.test(name)) return usageError(HELP, `--name ${JSON.stringify(name)}: not a cluster name`);
  if (process.getuid?.() !== 0) { console.error("error: cluster destroy needs root (it deletes network namespaces and stops the nodes' processes)"); return EXIT.FAILED; }
  const dir = join(a.values.state ?? defaultStateRoot(), name);
  const state = loadState(dir);
  const leftovers = listNetns().filter((n) => n === `bunker-${name}` || n.startsWith(`bunker-${name}-`));
  if (!existsSync(dir) && leftovers.length === 0) { console.error(`error: no cluster ${name} (${dir} does not exist)`); return EXIT.FAILED; }
  console.log(`destroying cluster ${name}`);
  await destroyCluster(dir, name, { step: (l) => console.log(`  ${l}`) });
  const path = clientConfigPath(a.values.bunkerconfig);
  try {
    const c = loadClientConfig(path, { allowMissing: true });
    const ctx = c.contexts[name];
    // Only the context this cluster's create wrote: its endpoints are the forwards it recorded.
    const ours = state?.forwarder && ctx && ctx.endpoints.every((e) => Object.values(state.forwarder!.ports).some((p) => e === `127.0.0.1:${p}`));
    if (ours) {
      const { [name]: _gone, ...rest } = c.contexts;
      saveClientConfig(path, { context: c.context === name ? "" : c.context, contexts: rest });
      console.log(`  removed context "${name}" from ${path}`);
    }
  } catch {
    // A client config that does not parse is the operator's to fix; the cluster is gone either way.
  }
  return EXIT.OK;
}
