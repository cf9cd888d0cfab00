/**
 * The machine configs of a local cluster's nodes: one `gen config` for the cluster (the endpoint
 * is the first control plane), then per node its hostname, its address on the cluster network and
 * the list of control planes, over the operator's patches. Each is validated before any node
 * starts, so a bad --config-patch fails `create` with the loader's line:column errors.
 */
import type { Json, Patch } from "../configpatch/patch.ts";
import { applyPatches } from "../configpatch/patch.ts";
import { loadConfig } from "../config/load.ts";
import { formatProblems } from "../config/problem.ts";
import { generateConfigs, renderMachineConfig } from "../genconfig/genconfig.ts";
import type { ClientConfig } from "../clientconfig/clientconfig.ts";
import type { Secrets } from "../secrets/secrets.ts";
import type { ClusterPlan } from "./plan.ts";

export interface NodeConfigsInput {
  plan: ClusterPlan;
  secrets: Secrets;
  patches?: Patch[];
  patchesControlplane?: Patch[];
  patchesWorker?: Patch[];
  /** What the nodes run on, for validation (default container). */
  mode?: "container" | "qemu";
}

export interface NodeConfigs {
  /** YAML text per node name. */
  byNode: Map<string, string>;
  /** The admin client config gen config made (its context's endpoints are replaced by the caller). */
  clientConfig: ClientConfig;
  controlplaneYaml: string;
  workerYaml: string;
}

export function nodeConfigs(i: NodeConfigsInput): NodeConfigs {
  const p = i.plan;
  const cps = p.nodes.filter((n) => n.role === "controlplane").map((n) => n.address);
  const gen = generateConfigs({
    clusterName: p.name, endpoint: `https://${cps[0]}:50000`, secrets: i.secrets,
    patches: [...(i.patches ?? []), { kind: "merge", source: "cluster create", patch: { cluster: { controlPlane: { nodes: cps } } } }],
    patchesControlplane: i.patchesControlplane ?? [], patchesWorker: i.patchesWorker ?? [],
  });
  const byNode = new Map<string, string>();
  for (const n of p.nodes) {
    const own: Patch = {
      kind: "merge", source: `cluster create (${n.name})`,
      patch: { machine: {
        network: { hostname: n.name, interfaces: [{ interface: "eth0", addresses: [`${n.address}/${p.prefix}`], routes: [{ network: "0.0.0.0/0", gateway: p.gateway }] }] },
        // A VM keeps its own clock: the gateway serves the host's time (core/cluster/qemu.ts).
        ...(i.mode === "qemu" ? { time: { servers: [p.gateway] } } : {}),
      } },
    };
    const doc = applyPatches((n.role === "controlplane" ? gen.controlplane : gen.worker) as Json, [own]);
    const text = renderMachineConfig(doc, n.role, p.name);
    const r = loadConfig(text, { mode: i.mode ?? "container" });
    if (r.errors.length) throw new Error(formatProblems(`${n.name} config`, r.errors));
    byNode.set(n.name, text);
  }
  const file = (name: string) => gen.files.find((f) => f.name === name)!.content;
  return { byNode, clientConfig: gen.clientConfig, controlplaneYaml: file("controlplane.yaml"), workerYaml: file("worker.yaml") };
}
