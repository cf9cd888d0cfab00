/** Small helpers shared by the benchmarks: timing, peak RSS and the results file. */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";

export const root = resolve(import.meta.dir, "..");

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** Runs a command `runs` times; returns wall times in ms and the largest peak RSS in bytes. */
export function timeCommand(argv: string[], runs: number, env?: Record<string, string>): { ms: number[]; peakRssBytes: number } {
  const ms: number[] = [];
  let peakRssBytes = 0;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = Bun.spawnSync(argv, { env: env ?? { PATH: "/usr/bin:/bin" }, stdout: "ignore", stderr: "ignore" });
    ms.push(performance.now() - t0);
    // resourceUsage.maxRSS: the peak RSS of the reaped child, in bytes under Bun.
    peakRssBytes = Math.max(peakRssBytes, Number(r.resourceUsage?.maxRSS ?? 0));
  }
  return { ms, peakRssBytes };
}

/** Writes a markdown results file under bench/results/ and echoes it. */
export function writeResults(name: string, title: string, lines: string[]): void {
  const file = resolve(root, "bench/results", `${name}.md`);
  mkdirSync(dirname(file), { recursive: true });
  const text = [`# ${title}`, "", `Measured ${new Date().toISOString().slice(0, 10)} on ${navigator.hardwareConcurrency} cores, Bun ${Bun.version}.`, "", ...lines, ""].join("\n");
  writeFileSync(file, text);
  console.log(text);
}
