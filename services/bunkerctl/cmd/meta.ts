import { MachineService as M } from "../../../core/api/gen/services.ts";
import { MetaKeyError, parseMetaKey } from "../../../core/meta/keys.ts";
import { usageError } from "../args.ts";
import { CONNECT_HELP, formatOption, FORMAT_OPTION, OUTPUT_HELP, runRemote, type Remote } from "../client/remote.ts";
import type { Destination } from "../client/api.ts";
import { printRecords } from "../client/output.ts";

const KEY_HELP = `KEY is a tag number, decimal or 0x hex (0xc), or a tag's name (UserReserved1); docs/meta.md
lists them. META holds machine tokens and boot overrides, so every meta command is os:admin's.`;

const READ_HELP = `Usage: bunkerctl meta read [KEY] [-o table|json|yaml] [connection flags]

Prints the META store of each node's install disk: every key, or KEY alone. A value that is
printable UTF-8 text is shown as text, any other as base64:... (json and yaml give both).

${KEY_HELP}

${OUTPUT_HELP}

${CONNECT_HELP}`;

const WRITE_HELP = `Usage: bunkerctl meta write KEY VALUE [connection flags]

Sets KEY to the text VALUE in the META store of each node's install disk (both copies
rewritten, the spare one first). Upgrade (0x6) and SecurityVersionFloor (0x40) are refused:
init keeps them in step with the boot slots.

${KEY_HELP}

${CONNECT_HELP}

Example:
  bunkerctl meta write 0xc "rack 4" -n 10.5.0.2`;

const DELETE_HELP = `Usage: bunkerctl meta delete KEY [connection flags]

Removes KEY from the META store of each node's install disk; an error when it is not set. The
keys meta write refuses are refused here too.

${KEY_HELP}

${CONNECT_HELP}`;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The value as text when it is printable UTF-8, else undefined. */
function asText(v: Uint8Array): string | undefined {
  try {
    const t = utf8.decode(v);
    // Control characters other than tab and newline would garble a terminal.
    return /[\u0000-\u0008\u000b-\u001f\u007f]/.test(t) ? undefined : t;
  } catch {
    return undefined;
  }
}

const hex = (key: number) => `0x${key.toString(16)}`;

/** The tag KEY names, or the exit code of the usage error that says why it names none. */
function key(text: string, help: string): { tag: number } | { exit: number } {
  try {
    return { tag: parseMetaKey(text) };
  } catch (err) {
    if (err instanceof MetaKeyError) return { exit: usageError(help, err.message) };
    throw err;
  }
}

export function runRead(argv: string[]): Promise<number> {
  return runRemote(argv, READ_HELP, { ...FORMAT_OPTION }, [0, 1], async (a, r) => {
    const format = formatOption(a.values.output, READ_HELP, ["table", "json", "yaml"]);
    if (typeof format === "number") return format;
    const k = a.positionals[0] === undefined ? { tag: 0 } : key(a.positionals[0], READ_HELP);
    if ("exit" in k) return k.exit;
    const { results, exit } = await r.each((d) => r.api.unary(M.MetaRead, { key: k.tag }, d));
    const rows = results.flatMap(({ d, value }) => {
      for (const p of value.problems ?? []) console.error(`${d.label}: META: ${p}`);
      return (value.entries ?? []).map((e) => {
        const bytes = e.value ?? new Uint8Array();
        return { node: d.label, key: hex(e.key ?? 0), name: e.name ?? "", text: asText(bytes), base64: Buffer.from(bytes).toString("base64") };
      });
    });
    printRecords(format, rows, [
      ["NODE", (x) => x.node], ["KEY", (x) => x.key], ["NAME", (x) => x.name],
      ["VALUE", (x) => x.text ?? `base64:${x.base64}`],
    ], (x) => ({ node: x.node, key: x.key, name: x.name, value: x.text ?? null, base64: x.base64 }));
    return exit;
  });
}

/** A write or delete on every node named, each node's answer printed. */
function change(argv: string[], help: string, positionals: number, call: (r: Remote, d: Destination, tag: number, rest: string[]) => Promise<{ message?: string | null }>): Promise<number> {
  return runRemote(argv, help, {}, [positionals, positionals], async (a, r) => {
    const k = key(a.positionals[0]!, help);
    if ("exit" in k) return k.exit;
    const { results, exit } = await r.each((d) => call(r, d, k.tag, a.positionals.slice(1)));
    for (const { d, value } of results) console.log(`${d.label}: ${value.message ?? ""}`);
    return exit;
  });
}

export const runWrite = (argv: string[]) => change(argv, WRITE_HELP, 2, (r, d, tag, [value]) => r.api.unary(M.MetaWrite, { key: tag, value: new TextEncoder().encode(value!) }, d));
export const runDelete = (argv: string[]) => change(argv, DELETE_HELP, 1, (r, d, tag) => r.api.unary(M.MetaDelete, { key: tag }, d));
