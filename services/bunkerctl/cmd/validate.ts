/** `bunkerctl validate -f FILE [--mode metal|qemu|container] [-o text|json]` */
import { readFileSync } from "node:fs";
import { loadConfig, formatProblems, MODES, type Mode } from "../../../core/config/config.ts";
import { parseCommandArgs, usageError } from "../args.ts";

const HELP = `Usage: bunkerctl validate -f FILE [--mode metal|qemu|container] [-o text|json]

Checks a machine config (controlplane.yaml, worker.yaml) without a node: its YAML, every field's
type and form, and the rules that relate fields. Every problem is listed at once as
FILE:LINE:COL: error|warning: PATH: message.

Options:
  -f, --file FILE   the config to check ("-" reads standard input)
      --mode MODE   where the node runs, which changes what is required (default metal):
                    metal      a real machine: an install disk is expected
                    qemu       a virtual machine, often booted from kernel and initramfs
                    container  no install, no links, no kernel: those sections are ignored
  -o, --output FMT  text (default) or json

Exit status: 0 valid (warnings allowed), 1 invalid or unreadable, 2 bad usage.`;

export function run(argv: string[]): number {
  const options = { file: { type: "string", short: "f" }, mode: { type: "string", short: "m" }, output: { type: "string", short: "o" } } as const;
  const p = parseCommandArgs(argv, HELP, options, [0, Infinity]);
  if (typeof p === "number") return p;
  if (p.positionals.length > 0) return usageError(HELP, `unexpected argument "${p.positionals[0]}" (the file goes after -f)`);
  const file = p.values.file ?? "";
  if (!file) return usageError(HELP, "-f FILE is required");
  const mode = (p.values.mode ?? "metal") as Mode;
  if (!MODES.includes(mode)) return usageError(HELP, `--mode must be one of ${MODES.join(", ")}, not "${mode}"`);
  const output = p.values.output ?? "text";
  if (output !== "text" && output !== "json") return usageError(HELP, `-o must be text or json, not "${output}"`);
  return validate(file, mode, output);
}

function validate(file: string, mode: Mode, output: "text" | "json"): number {
  let text: string;
  try {
    text = readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (e) {
    console.error(`bunkerctl validate: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    return 1;
  }
  const name = file === "-" ? "<stdin>" : file;
  const r = loadConfig(text, { mode });
  const valid = r.errors.length === 0;
  if (output === "json") {
    console.log(JSON.stringify({ file: name, mode, valid, errors: r.errors, warnings: r.warnings }, null, 2));
  } else {
    const listing = formatProblems(name, r.errors, r.warnings);
    if (listing) console.log(listing);
    const counts = `${r.errors.length} error${r.errors.length === 1 ? "" : "s"}, ${r.warnings.length} warning${r.warnings.length === 1 ? "" : "s"}`;
    console.log(valid ? `${name}: valid for ${mode} mode (${counts})` : `${name}: invalid (${counts})`);
  }
  return valid ? 0 : 1;
}
