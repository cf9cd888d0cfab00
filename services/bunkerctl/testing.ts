/** For tests: runs bunkerctl from source, as an operator would run the binary. */
import { resolve } from "node:path";

const main = resolve(import.meta.dir, "../main.ts");
// Through the link named "bun": the dispatcher takes that name for the multi-call binary.
const bun = resolve(import.meta.dir, "../../node_modules/.bin/bun");

export function runCtl(cwd: string, env: Record<string, string>, ...args: string[]): { code: number; out: string; err: string } {
  const r = Bun.spawnSync([bun, main, "bunkerctl", ...args], { cwd, env: { ...process.env, ...env } });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}
