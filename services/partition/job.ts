/**
 * `bunker partition job`: one disk job (core/install/job.ts) read as JSON from stdin, for init,
 * which runs its install, upgrade and reset disk work in this child rather than in PID 1. Each
 * line on stdout is one JSON object: {"progress": TEXT} as the work goes, then {"result": ...}
 * or {"error": TEXT}. The job's text (a machine config with its secrets) never goes on argv.
 */
import { parseJob, runJob } from "../../core/install/job.ts";

const say = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);

export async function jobCommand(): Promise<number> {
  try {
    const job = parseJob(await Bun.stdin.text());
    say({ result: runJob(job, (line) => say({ progress: line })) });
    return 0;
  } catch (err) {
    say({ error: err instanceof Error ? err.message : String(err) });
    return 1;
  }
}
