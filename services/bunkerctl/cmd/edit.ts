import { mkdtempSync, openSync, readFileSync, rmSync, writeSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GrpcError, Status } from "../../../core/grpc/status.ts";
import type { Destination } from "../client/api.ts";
import { EXIT } from "../client/exitcodes.ts";
import type { Format } from "../client/output.ts";
import { CONNECT_HELP, FORMAT_OPTION, runRemote, type Remote } from "../client/remote.ts";
import { printApplyResults } from "./apply-config.ts";
import { APPLY_HELP, APPLY_OPTIONS, appliedConfig, commonArgs } from "./machineconfig.ts";

const HELP = `Usage: bunkerctl edit machineconfig [v1alpha1] [--mode MODE] [--dry-run] [-o table|json|yaml]
                             [connection flags]

Opens each node's machine config as it is applied (os:admin; comments kept) in $EDITOR (else
$VISUAL, else vi), one node after the other. On save the node checks it: when it refuses, the editor comes
back with its errors (FILE:LINE:COL) as comment lines at the top; fix them and save again.
Saving it unchanged or empty applies nothing. A good config is then applied as apply-config
does (--mode, --dry-run). TYPE may be machineconfig or mc.

The file holds the config's secrets: it is written, readable by you only (0600), in a folder
of its own under the temporary directory, and removed when the edit ends.

Options:
${APPLY_HELP}
  -o, --output FORMAT          table (default), json or yaml

${CONNECT_HELP}

Examples:
  bunkerctl edit machineconfig
  EDITOR=nano bunkerctl edit mc --mode staged -n 10.5.0.3
  bunkerctl edit mc --dry-run`;

/** Our lines at the top of the file: removed before the config is sent. */
const MARK = "# bunkerctl edit:";

/** The comment block above the config: what to do, and the node's last refusal. */
function header(node: string, mode: string, file: string, errors: string[]): string[] {
  return [
    `${MARK} the machine config of ${node}; lines starting "${MARK}" are removed.`,
    `${MARK} save and quit to apply it (mode ${mode}); save it unchanged or empty to apply nothing.`,
    ...(errors.length ? [`${MARK} the node refused the last save (${file}:LINE:COL counts lines of this file):`, ...errors.map((e) => `${MARK}   ${e}`)] : []),
  ];
}

/** The config without our comment block. */
export function stripHeader(text: string): string {
  const lines = text.split("\n");
  let i = 0;
  while (i < lines.length && lines[i]!.startsWith(MARK)) i++;
  return lines.slice(i).join("\n");
}

/**
 * The node's refusal as lines for the header, each "api:LINE:COL" made FILE:LINE:COL of the file
 * the editor shows next (the config sits below `offset` header lines).
 */
export function refusalLines(message: string, file: string, offset: number): string[] {
  return message.replace(/^machine config from api is not valid:\n/, "").split("\n").filter((l) => l.trim())
    .map((l) => l.replace(/^api:(\d+):(\d+):/, (_m, line: string, col: string) => `${file}:${Number(line) + offset}:${col}:`));
}

/** Runs the editor on `file` with the terminal; EDITOR may hold arguments ("code --wait"). */
async function runEditor(file: string): Promise<void> {
  const editor = process.env.EDITOR || process.env.VISUAL || "vi";
  const p = Bun.spawn(["/bin/sh", "-c", `${editor} "$1"`, "editor", file], { stdin: "inherit", stdout: "inherit", stderr: "inherit" });
  const code = await p.exited;
  if (code !== 0) throw new EditError(`the editor (${editor}) exited with code ${code}: nothing applied`);
}

class EditError extends Error {}

/** Writes `text` to `path`, created for the owner only (the config holds secrets). */
function writePrivate(path: string, text: string): void {
  rmSync(path, { force: true });
  const fd = openSync(path, "wx", 0o600);
  try { writeSync(fd, text); } finally { closeSync(fd); }
}

/**
 * One node: edit until the node takes it (a dry run checks each save, with the mode asked for)
 * or the operator gives up; then apply it. Returns the exit code.
 */
async function editOne(r: Remote, d: Destination, dir: string, o: { mode: number; modeName: string; dryRun: boolean; format: Format }): Promise<number> {
  const original = await appliedConfig(r, d);
  const name = "machineconfig.yaml";
  const file = join(dir, name);
  let body = original;
  let errors: string[] = [];
  for (;;) {
    const head = header(d.label, o.modeName, name, errors);
    writePrivate(file, `${[...head, body].join("\n")}`);
    await runEditor(file);
    const saved = stripHeader(readFileSync(file, "utf8"));
    if (saved.trim() === "") { console.error(`${d.label}: edit cancelled: the file was saved empty; nothing applied`); return EXIT.OK; }
    if (saved === original) { console.error(`${d.label}: edit cancelled: no changes; nothing applied`); return EXIT.OK; }
    if (errors.length && saved === body) { console.error(`${d.label}: edit cancelled: saved unchanged after the node refused it; nothing applied`); return EXIT.FAILED; }
    body = saved;
    const data = new TextEncoder().encode(body);
    try {
      // The check: the node's own (its mode, its current config), changing nothing.
      const check = await r.api.apply({ data, mode: o.mode, dryRun: true }, d);
      if (o.dryRun) { printApplyResults(o.format, [{ d, value: check }], true); return EXIT.OK; }
    } catch (err) {
      if (!(err instanceof GrpcError) || err.code !== Status.INVALID_ARGUMENT) throw err;
      // Lines of the next header: its fixed part, the title of the errors, then the errors.
      const lines = refusalLines(err.details, name, 0);
      const offset = header(d.label, o.modeName, name, lines).length;
      errors = refusalLines(err.details, name, offset);
      console.error(`${d.label}: the node refused the config; back to the editor:\n${errors.map((e) => `  ${e}`).join("\n")}`);
      continue;
    }
    const applied = await r.api.apply({ data, mode: o.mode, dryRun: false }, d);
    printApplyResults(o.format, [{ d, value: applied }], false);
    return EXIT.OK;
  }
}

export function run(argv: string[]): Promise<number> {
  const options = { ...FORMAT_OPTION, ...APPLY_OPTIONS } as const;
  return runRemote(argv, HELP, options, [1, 2], async (a, r) => {
    const v = a.values;
    const c = commonArgs(a.positionals, v, HELP);
    if (typeof c === "number") return c;
    const { format, mode } = c;
    // mkdtemp makes the folder 0700: no one else may even see the file's name.
    const dir = mkdtempSync(join(tmpdir(), "bunkerctl-edit-"));
    const cleanup = () => rmSync(dir, { recursive: true, force: true });
    // Interrupted (ctrl-C while the editor runs, or a kill): the secrets go with the process.
    const onSignal = (sig: NodeJS.Signals) => { cleanup(); process.exit(sig === "SIGINT" ? 130 : 143); };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    process.on("exit", cleanup);
    let exit: number = EXIT.OK;
    try {
      for (const d of r.dests) {
        let code: number;
        try {
          code = await editOne(r, d, dir, { mode, modeName: v.mode ?? "auto", dryRun: v["dry-run"] === true, format });
        } catch (err) {
          if (!(err instanceof EditError)) code = r.fail(err, d.label);
          else { console.error(`error: ${d.label}: ${err.message}`); code = EXIT.FAILED; }
        }
        if (code !== EXIT.OK && exit === EXIT.OK) exit = code;
      }
    } finally {
      cleanup();
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      process.off("exit", cleanup);
    }
    return exit;
  });
}
