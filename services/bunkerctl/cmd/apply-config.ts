import { readFileSync } from "node:fs";
import { bunker } from "../../../core/api/gen/api.js";
import { usageError } from "../args.ts";
import { EXIT } from "../client/exitcodes.ts";
import { formatTable, isoTime, parseDuration, printRecords } from "../client/output.ts";
import { CONNECT_HELP, FORMAT_OPTION, formatOption, runRemote } from "../client/remote.ts";
import type { Destination } from "../client/api.ts";
import type { Format } from "../client/output.ts";

const HELP = `Usage: bunkerctl apply-config -f FILE [--mode MODE] [--dry-run] [--try-timeout DURATION]
                              [--insecure] [-o table|json|yaml] [connection flags]

Sends a machine config to each node (os:admin; or anyone, with --insecure, to a node in
maintenance mode, which then boots with it). The node checks it and reports every change and
whether it applies live or needs a reboot.

Modes:
  auto      live when every change applies live, else reboot (default)
  live      apply now without reboot; refused when a change needs a reboot
  reboot    store, then reboot
  staged    store for the next boot; change nothing now
  try       apply live and revert after --try-timeout unless \`bunkerctl confirm\` comes first

Options:
  -f, --file FILE              the machine config (YAML); "-" reads standard input
  -m, --mode MODE              auto, live, reboot, staged or try
  --dry-run                    check and show the diff and the changes; change nothing
  --try-timeout DURATION       with --mode try: when to revert (default: the node's, 60s)
  -o, --output FORMAT          table (default), json or yaml

${CONNECT_HELP}

Examples:
  bunkerctl apply-config -f worker.yaml --insecure -n 10.5.0.9
  bunkerctl apply-config -f controlplane.yaml --dry-run
  bunkerctl apply-config -f controlplane.yaml --mode try --try-timeout 2m && bunkerctl confirm`;

export const MODES: Record<string, number> = { auto: 0, live: 1, reboot: 2, staged: 3, try: 4 };
const MODE_NAMES = Object.fromEntries(Object.entries(MODES).map(([k, v]) => [v, k]));
const EFFECT = ["live", "reboot"];

export function run(argv: string[]): Promise<number> {
  const options = {
    ...FORMAT_OPTION, file: { type: "string", short: "f" }, mode: { type: "string", short: "m" },
    "dry-run": { type: "boolean" }, "try-timeout": { type: "string" },
  } as const;
  return runRemote(argv, HELP, options, [0, 0], async (a, r) => {
    const v = a.values;
    const format = formatOption(v.output, HELP, ["table", "json", "yaml"]);
    if (typeof format === "number") return format;
    if (!v.file) return usageError(HELP, "-f/--file FILE is required");
    const mode = MODES[v.mode ?? "auto"];
    if (mode === undefined) return usageError(HELP, `--mode ${v.mode}: expected auto, live, reboot, staged or try`);
    let trySeconds = 0;
    if (v["try-timeout"] !== undefined) {
      if (mode !== MODES.try) return usageError(HELP, "--try-timeout goes with --mode try");
      const ms = parseDuration(v["try-timeout"]);
      if (ms === undefined || ms < 1000) return usageError(HELP, `--try-timeout ${v["try-timeout"]}: expected a duration of at least 1s`);
      trySeconds = Math.round(ms / 1000);
    }
    let data: Buffer;
    try {
      data = readFileSync(v.file === "-" ? 0 : v.file);
    } catch (e) {
      console.error(`error: cannot read ${v.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      return EXIT.USAGE;
    }
    const req: ApplyRequest = { data, mode, dryRun: v["dry-run"] === true, tryTimeoutSeconds: trySeconds };
    const { results, exit } = await r.each((d) => r.api.apply(req, d));
    printApplyResults(format, results, v["dry-run"] === true);
    return exit;
  });
}

/** Each node's answer to ApplyConfiguration: message, warnings, changes and (dry run) the diff; or json/yaml records. */
export function printApplyResults(format: Format, results: { d: Destination; value: bunker.machine.v1.IApplyConfigurationResponse }[], dryRun: boolean): void {
    const records = results.map(({ d, value: x }) => ({
      node: d.label, mode: MODE_NAMES[x.mode ?? 0] ?? String(x.mode), message: x.message ?? "",
      changes: (x.changes ?? []).map((c) => ({ path: c.path ?? "", kind: c.kind ?? "", effect: EFFECT[c.effect ?? 0] ?? String(c.effect) })),
      diff: x.diff ?? "", warnings: x.warnings ?? [], tryDeadline: x.tryDeadline ? isoTime(Number(x.tryDeadline)) : "",
    }));
    if (format !== "table") {
      printRecords(format, records, []);
      return;
    }
    for (const x of records) {
      console.log(`${x.node}: ${dryRun && !x.message.startsWith("dry run") ? "dry run: " : ""}${x.message}${x.tryDeadline ? ` (reverts at ${x.tryDeadline} unless confirmed)` : ""}`);
      for (const w of x.warnings) console.log(`  warning: ${w}`);
      if (x.changes.length) console.log(formatTable(["  PATH", "CHANGE", "APPLIES"], x.changes.map((c) => [`  ${c.path}`, c.kind, c.effect])));
      else console.log("  no changes");
      if (dryRun && x.diff) console.log(x.diff.replace(/\n?$/, ""));
    }
}

// The request type, checked at compile time against the contract.
export type ApplyRequest = bunker.machine.v1.IApplyConfigurationRequest;
