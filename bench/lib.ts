/** Small helpers shared by the benchmarks: timing, peak RSS and the results file. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
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

/**
 * Runs a command `runs` times; returns the wall times in ms, and the peak RSS in bytes of one
 * more run under GNU time. (Bun's resourceUsage.maxRSS comes from getrusage(RUSAGE_CHILDREN), the
 * largest child this process ever reaped, so an earlier big child would show up in it.)
 */
export function timeCommand(argv: string[], runs: number, env?: Record<string, string>): { ms: number[]; peakRssBytes: number } {
  const ms: number[] = [];
  const e = env ?? { PATH: "/usr/bin:/bin" };
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    Bun.spawnSync(argv, { env: e, stdout: "ignore", stderr: "ignore" });
    ms.push(performance.now() - t0);
  }
  const r = Bun.spawnSync(["/usr/bin/time", "-f", "maxrss-kb=%M", ...argv], { env: e, stdout: "ignore", stderr: "pipe" });
  const kb = /maxrss-kb=(\d+)/.exec(r.stderr.toString())?.[1];
  return { ms, peakRssBytes: kb ? Number(kb) * 1024 : NaN };
}

/** Writes a markdown results file under bench/results/ and echoes it. */
export function writeResults(name: string, title: string, lines: string[]): void {
  const file = resolve(root, "bench/results", `${name}.md`);
  mkdirSync(dirname(file), { recursive: true });
  const text = [`# ${title}`, "", `Measured ${new Date().toISOString().slice(0, 10)} on ${navigator.hardwareConcurrency} cores, Bun ${Bun.version}.`, "", ...lines, ""].join("\n");
  writeFileSync(file, text);
  console.log(text);
}

/**
 * Replaces the section `tag` of bench/results/NAME.md (between <!-- tag: ... --> and <!-- /tag -->),
 * keeping the file's other sections, each written by its own script; echoes it.
 */
export function writeSection(name: string, title: string, tag: string, section: string): void {
  const file = resolve(root, "bench/results", `${name}.md`);
  mkdirSync(dirname(file), { recursive: true });
  const old = existsSync(file) ? readFileSync(file, "utf8") : `# ${title}\n`;
  const block = new RegExp(`<!-- ${tag}: [\\s\\S]*?<!-- /${tag} -->`);
  writeFileSync(file, block.test(old) ? old.replace(block, () => section) : `${old.trimEnd()}\n\n${section}\n`);
  console.log(section);
}

/** The first array in a JSON answer whose objects carry `key` (per-node wrappers vary by command). */
export function findArray<T>(v: unknown, key: string): T[] {
  if (Array.isArray(v)) {
    if (v.some((x) => x && typeof x === "object" && key in x)) return v as T[];
    for (const x of v) {
      const r = findArray<T>(x, key);
      if (r.length) return r;
    }
  } else if (v && typeof v === "object") {
    for (const x of Object.values(v)) {
      const r = findArray<T>(x, key);
      if (r.length) return r;
    }
  }
  return [];
}
