/** `bunkerctl validate -f FILE [--mode metal|qemu|container] [-o text|json]` */
import { readFileSync } from "node:fs";
import { loadConfig, formatProblems, MODES, type Mode } from "../../../core/config/config.ts";
import { optionValue, runCommand, UsageError } from "./args.ts";

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
  const specs = [{ name: "file", short: "f", value: true }, { name: "mode", short: "m", value: true }, { name: "output", short: "o", value: true }];
  return runCommand("validate", HELP, argv, specs, (p) => {
    if (p.positional.length > 0) throw new UsageError(`unexpected argument "${p.positional[0]}" (the file goes after -f)`);
    const file = optionValue(p, "file") ?? "";
    if (!file) throw new UsageError("-f FILE is required");
    const mode = (optionValue(p, "mode") ?? "metal") as Mode;
    if (!MODES.includes(mode)) throw new UsageError(`--mode must be one of ${MODES.join(", ")}, not "${mode}"`);
    const output = optionValue(p, "output") ?? "text";
    if (output !== "text" && output !== "json") throw new UsageError(`-o must be text or json, not "${output}"`);
    return validate(file, mode, output);
  });
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
