/**
 * machine.install.diskSelector: pick the install disk by its facts instead of its name, which
 * can change between boots. Every field given must match; text fields take shell-style globs
 * (`*`, `?`); size takes a comparison such as ">= 10GB", "< 2TiB" or "64GiB" (exactly), parsed
 * once where the selector is read (the config's parsed view, `partition --select`).
 */
import type { Disk, DiskType } from "./disk.ts";

export interface DiskSelector {
  size?: SizeCondition;
  model?: string;
  serial?: string;
  wwid?: string;
  name?: string;
  modalias?: string;
  busPath?: string;
  type?: DiskType;
  transport?: string;
}

const UNITS: Record<string, number> = {
  "": 1, b: 1,
  kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, pb: 1e15,
  kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40, pib: 2 ** 50,
};

export interface SizeCondition { op: ">=" | "<=" | ">" | "<" | "=="; bytes: number; text: string }

/** Parses ">= 10GB" and the like (decimal GB, binary GiB); throws naming the expression. */
export function parseSizeCondition(text: string): SizeCondition {
  const m = /^\s*(>=|<=|>|<|==|=)?\s*(\d+(?:\.\d+)?)\s*([kmgtp]i?b|b)?\s*$/i.exec(text);
  if (!m) throw new Error(`diskSelector.size "${text}": expected [op] number [unit], e.g. ">= 10GB" (ops >= <= > < ==; units B KB MB GB TB KiB MiB GiB TiB)`);
  const op = (m[1] === "=" || m[1] === undefined ? "==" : m[1]) as SizeCondition["op"];
  const bytes = Math.round(Number(m[2]) * UNITS[(m[3] ?? "").toLowerCase()]!);
  return { op, bytes, text: text.trim() };
}

function compare(n: number, c: SizeCondition): boolean {
  switch (c.op) {
    case ">=": return n >= c.bytes;
    case "<=": return n <= c.bytes;
    case ">": return n > c.bytes;
    case "<": return n < c.bytes;
    case "==": return n === c.bytes;
  }
}

/** A shell-style glob (`*`, `?`, no brackets) as an anchored, case-sensitive RegExp. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${body}$`);
}

const TEXT_FIELDS = ["model", "serial", "wwid", "name", "modalias", "busPath", "type", "transport"] as const;

/** Why `disk` does not match `sel`, one reason per failed field; empty when it matches. */
export function mismatches(disk: Disk, sel: DiskSelector): string[] {
  const out: string[] = [];
  if (sel.size !== undefined && !compare(disk.size, sel.size)) out.push(`size ${disk.size} bytes is not ${sel.size.text}`);
  for (const f of TEXT_FIELDS) {
    const want = sel[f];
    if (want === undefined) continue;
    const have = disk[f];
    if (have === undefined) out.push(`${f} is unknown (wanted "${want}")`);
    else if (!globToRegExp(want).test(have)) out.push(`${f} "${have}" does not match "${want}"`);
  }
  return out;
}

/** The disks `sel` matches, in the order given; read-only disks and CD drives never match. */
export function matchDisks(disks: Disk[], sel: DiskSelector): Disk[] {
  return disks.filter((d) => !d.readOnly && d.type !== "cd" && mismatches(d, sel).length === 0);
}

/**
 * The one install disk: the first match (disks sorted by name). Throws, listing every disk and
 * why it did not match, when there is none.
 */
export function selectInstallDisk(disks: Disk[], sel: DiskSelector): Disk {
  const m = matchDisks(disks, sel);
  if (m[0]) return m[0];
  const why = disks.map((d) => `${d.name}: ${d.readOnly ? "read-only" : d.type === "cd" ? "a CD drive" : mismatches(d, sel).join(", ")}`);
  // The size as it was written: the selector as the operator gave it.
  const written = JSON.stringify(sel, (k, x: unknown) => (k === "size" ? (x as SizeCondition).text : x));
  throw new Error(`no disk matches diskSelector ${written}${why.length ? ` (${why.join("; ")})` : " (no disks found)"}`);
}
