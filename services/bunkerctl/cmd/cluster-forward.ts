import { startForwards, type ForwardMap } from "../../../core/cluster/forward.ts";
import { parseCommandArgs, usageError } from "../args.ts";

const HELP = `Usage: bunkerctl cluster forward --netns NAME --map PORT=HOST:PORT [--map ...]

Forwards TCP from 127.0.0.1:PORT on this host to HOST:PORT inside network namespace NAME, until
stopped. "cluster create" starts one per cluster (its control planes' apid); "cluster destroy"
stops it. Needs root (it enters the namespace for each connection it opens).`;

export async function run(argv: string[]): Promise<number> {
  const a = parseCommandArgs(argv, HELP, { netns: { type: "string" }, map: { type: "string", multiple: true } }, [0, 0]);
  if (typeof a === "number") return a;
  if (!a.values.netns) return usageError(HELP, "--netns is required");
  const maps: ForwardMap[] = [];
  for (const m of a.values.map ?? []) {
    const x = /^([0-9]{1,5})=(\d{1,3}(?:\.\d{1,3}){3}):([0-9]{1,5})$/.exec(m);
    if (!x || Number(x[1]) > 65535 || Number(x[3]) > 65535) return usageError(HELP, `--map ${m}: expected PORT=IPV4:PORT`);
    maps.push({ listenPort: Number(x[1]), target: { host: x[2]!, port: Number(x[3]) } });
  }
  if (maps.length === 0) return usageError(HELP, "at least one --map is needed");
  const listeners = startForwards(a.values.netns, maps);
  console.log(`forwarding ${maps.map((m) => `127.0.0.1:${m.listenPort} -> ${m.target.host}:${m.target.port}`).join(", ")} in ${a.values.netns}`);
  await new Promise<void>((resolve) => {
    for (const s of ["SIGTERM", "SIGINT"] as const) process.once(s, () => resolve());
  });
  for (const l of listeners) l.stop(true);
  return 0;
}
