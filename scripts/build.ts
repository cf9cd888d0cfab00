/**
 * Builds the one binary: out/bunker, compiled by `bun build --compile`. The build time is the
 * commit's time (or SOURCE_DATE_EPOCH) so two builds of one commit are byte-identical.
 * Usage: bun scripts/build.ts [--outfile out/bunker]
 */
import { $ } from "bun";
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";

const root = resolve(import.meta.dir, "..");
const args = process.argv.slice(2);
const outIdx = args.indexOf("--outfile");
const outfile = resolve(root, outIdx >= 0 && args[outIdx + 1] ? args[outIdx + 1]! : "out/bunker");

async function git(...a: string[]): Promise<string> {
  const r = await $`git -C ${root} ${a}`.quiet().nothrow();
  return r.exitCode === 0 ? r.stdout.toString().trim() : "";
}

const pkg = await Bun.file(resolve(root, "package.json")).json();
const commit = (await git("rev-parse", "--short=12", "HEAD")) || "unknown";
const dirty = (await git("status", "--porcelain", "--untracked-files=no")) ? "-dirty" : "";
const epoch = process.env.SOURCE_DATE_EPOCH ?? ((await git("log", "-1", "--format=%ct")) || "0");
const built = new Date(Number(epoch) * 1000).toISOString();

mkdirSync(dirname(outfile), { recursive: true });
const bun = resolve(root, "node_modules/.bin/bun");
const define = (k: string, v: string) => ["--define", `${k}=${JSON.stringify(v)}`];
const cmd = [
  bun, "build", "--compile", "--minify", "--bytecode", "--sourcemap",
  "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig",
  ...define("BUNKER_BUILD_VERSION", pkg.version),
  ...define("BUNKER_BUILD_COMMIT", commit + dirty),
  ...define("BUNKER_BUILD_TIME", built),
  resolve(root, "services/main.ts"),
  // Worker entry points are built in beside the main one (new Worker(new URL(...)) finds them).
  resolve(root, "core/config/parse-worker.ts"),
  // The outfile name is embedded in the binary (/$bunfs/root/NAME): keep it fixed.
  "--outfile", outfile,
];
const proc = Bun.spawnSync(cmd, { cwd: root, stdout: "inherit", stderr: "inherit" });
if (proc.exitCode !== 0) {
  console.error(`build: bun build failed with exit code ${proc.exitCode}`);
  process.exit(1);
}
console.error(`build: ${outfile} (${(Bun.file(outfile).size / 1e6).toFixed(1)} MB, ${pkg.version} ${commit}${dirty})`);
