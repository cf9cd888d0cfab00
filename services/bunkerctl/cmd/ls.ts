import { MachineService as M } from "../../../core/api/gen/services.ts";
import { usageError } from "../args.ts";
import { listFromNodes } from "../client/listing.ts";
import { formatBytes } from "../../../core/format/bytes.ts";
import { isoTime } from "../client/output.ts";
import { CONNECT_HELP, FORMAT_OPTION, formatOption, OUTPUT_HELP, runRemote } from "../client/remote.ts";

const HELP = `Usage: bunkerctl ls PATH [-r] [--depth N] [-l] [-H] [-o table|json|yaml] [connection flags]

Lists a directory on each node (os:admin only; the node allows only some roots and says which
when PATH is outside them). An entry that cannot be read shows its error and the listing goes on.

Options:
  -r, --recurse                descend into subdirectories
  --depth N                    with -r: at most N levels (default unlimited)
  -l, --long                   mode, size, owner and modification time too
  -H, --human                  sizes in KiB/MiB/GiB
${OUTPUT_HELP}

${CONNECT_HELP}

Example:
  bunkerctl ls /var/log -l`;

function modeString(mode: number, isDir: boolean, link: string): string {
  const t = isDir ? "d" : link ? "l" : "-";
  const bits = "rwxrwxrwx".split("").map((c, i) => (mode & (0o400 >> i) ? c : "-")).join("");
  return t + bits;
}

export function run(argv: string[]): Promise<number> {
  const options = { ...FORMAT_OPTION, recurse: { type: "boolean", short: "r" }, depth: { type: "string" }, long: { type: "boolean", short: "l" }, human: { type: "boolean", short: "H" } } as const;
  return runRemote(argv, HELP, options, [1, 1], async (a, r) => {
    const v = a.values;
    const format = formatOption(v.output, HELP, ["table", "json", "yaml"]);
    if (typeof format === "number") return format;
    const depth = v.depth === undefined ? 0 : Number(v.depth);
    if (!(Number.isInteger(depth) && depth >= 0)) return usageError(HELP, `--depth ${v.depth}: expected a whole number`);
    const req = { root: a.positionals[0]!, recurse: v.recurse === true || v.depth !== undefined, recursionDepth: depth };
    const size = (n: number) => (v.human ? formatBytes(n) : String(n));
    return listFromNodes(r, format, async (d) => Array.fromAsync(r.api.stream(M.List, req, d, { timeoutMs: r.api.timeoutMs })), v.long ? [
      ["MODE", (f) => modeString(f.mode ?? 0, f.isDir === true, f.link ?? "")], ["UID", (f) => String(f.uid ?? 0)], ["GID", (f) => String(f.gid ?? 0)],
      ["SIZE", (f) => size(Number(f.size ?? 0))], ["MODIFIED", (f) => isoTime(Number(f.modified ?? 0))],
      ["NAME", (f) => (f.relativeName || f.name || "") + (f.link ? ` -> ${f.link}` : "") + (f.error ? `  (error: ${f.error})` : "")],
    ] : [
      ["NAME", (f) => (f.relativeName || f.name || "") + (f.error ? `  (error: ${f.error})` : "")],
    ]);
  });
}
