import { usageError } from "../args.ts";
import { checkCluster, configuredControlPlanes, HealthTimeout } from "../client/clusterhealth.ts";
import { EXIT } from "../client/exitcodes.ts";
import { describe, waitFor } from "../client/machinestatus.ts";
import { parseDuration } from "../client/output.ts";
import { CONNECT_HELP, runRemote } from "../client/remote.ts";
import { splitList } from "../client/target.ts";

const HELP = `Usage: bunkerctl health [--wait-timeout DURATION] [--control-plane-nodes A,B] [--worker-nodes C,D]
                        [connection flags]

Waits until the cluster is healthy, printing each check and what it still waits for.

A cluster (the endpoint node's config lists its control planes in cluster.controlPlane.nodes, as
"cluster create" writes, or --control-plane-nodes is given): every control plane, and every worker
a control plane's trustd signed for (or --worker-nodes), must
  1. answer with a certificate of the cluster CA (through the endpoint's relay),
  2. be ready: services up and healthy, network online, time synchronised, certificate signed,
  3. keep its clock within --max-offset of its time server (nodes sharing the host's clock pass).

With -n, or a node whose config lists no control planes: waits until each node reports ready
(its MachineStatus), printing each change of its state as it goes. A node that does not answer
yet is retried until the timeout.

Exit codes: 0 healthy; 6 the timeout passed first (what is missing is named); 5 the credentials
were refused.

Options:
  --wait-timeout DURATION      how long to wait (default 5m)
  --control-plane-nodes LIST   the control planes (default: from the endpoint node's config)
  --worker-nodes LIST          the workers (default: those the control planes' trustd signed for)
  --max-offset DURATION        largest clock offset allowed (default 1s)

${CONNECT_HELP}

Examples:
  bunkerctl --context demo health
  bunkerctl health -n 10.5.0.2,10.5.0.3 --wait-timeout 10m`;

export function run(argv: string[]): Promise<number> {
  const options = { "wait-timeout": { type: "string" }, "control-plane-nodes": { type: "string", multiple: true }, "worker-nodes": { type: "string", multiple: true }, "max-offset": { type: "string" } } as const;
  return runRemote(argv, HELP, options, [0, 0], async (a, r) => {
    const ms = parseDuration(a.values["wait-timeout"] ?? "5m");
    if (ms === undefined || ms <= 0) return usageError(HELP, `--wait-timeout ${a.values["wait-timeout"]}: expected a duration such as 30s or 5m`);
    const maxOffsetMs = parseDuration(a.values["max-offset"] ?? "1s");
    if (maxOffsetMs === undefined || maxOffsetMs < 0) return usageError(HELP, `--max-offset ${a.values["max-offset"]}: expected a duration such as 500ms or 1s`);
    const deadline = Date.now() + ms;
    const given = (k: "control-plane-nodes" | "worker-nodes") => (a.values[k] ? splitList(a.values[k]) : undefined);
    const controlPlanes = given("control-plane-nodes") ?? (a.values.nodes ? undefined : await configuredControlPlanes(r.api, r.target.endpoints));
    if (controlPlanes) {
      try {
        await checkCluster({ api: r.api, endpoints: r.target.endpoints, deadline, controlPlanes, workers: given("worker-nodes"), maxOffsetMs, say: (l) => console.log(l) });
        console.log("healthy");
        return EXIT.OK;
      } catch (e) {
        if (!(e instanceof HealthTimeout)) throw e;
        console.error(`error: ${e.message}`);
        return EXIT.TIMEOUT;
      }
    }
    const { exit } = await r.each(async (d) => {
      const s = await waitFor(r.api, d, deadline, (x) => x.ready, (line) => console.log(`${d.label}: ${line}`));
      console.log(`${d.label}: ${describe(s)}`);
    });
    return exit;
  });
}
