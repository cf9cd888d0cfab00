/**
 * A unified diff of two texts (line based, 2 lines of context), for the ApplyConfiguration
 * answer: what an operator reads before applying. Configs are small; past a size where the
 * table of common subsequences would cost too much, the diff says so instead.
 */
const CONTEXT = 2;
const MAX_CELLS = 4_000_000;

type Op = { kind: " " | "-" | "+"; line: string };

function ops(a: string[], b: string[]): Op[] {
  // lcs[i][j]: length of the longest common subsequence of a[i..] and b[j..].
  const lcs: Uint32Array[] = Array.from({ length: a.length + 1 }, () => new Uint32Array(b.length + 1));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const out: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) { out.push({ kind: " ", line: a[i]! }); i++; j++; }
    else if (j < b.length && (i >= a.length || lcs[i]![j + 1]! >= lcs[i + 1]![j]!)) out.push({ kind: "+", line: b[j++]! });
    else out.push({ kind: "-", line: a[i++]! });
  }
  return out;
}

export function unifiedDiff(before: string, after: string, names: [string, string] = ["current", "new"]): string {
  if (before === after) return "";
  const a = before.split("\n");
  const b = after.split("\n");
  if (a.at(-1) === "") a.pop();
  if (b.at(-1) === "") b.pop();
  if ((a.length + 1) * (b.length + 1) > MAX_CELLS) return `--- ${names[0]}\n+++ ${names[1]}\n(too large to diff: ${a.length} and ${b.length} lines)\n`;
  const all = ops(a, b);
  const lines = [`--- ${names[0]}`, `+++ ${names[1]}`];
  let k = 0;
  while (k < all.length) {
    if (all[k]!.kind === " ") { k++; continue; }
    // A hunk: this change with its context, merged with changes whose context touches it.
    const start = Math.max(0, k - CONTEXT);
    let end = k;
    while (end < all.length) {
      let next = end;
      while (next < all.length && all[next]!.kind !== " ") next++;
      let gap = next;
      while (gap < all.length && all[gap]!.kind === " ") gap++;
      end = next;
      if (gap >= all.length || gap - next > 2 * CONTEXT) { end = Math.min(all.length, next + CONTEXT); break; }
      end = gap;
    }
    const oldStart = all.slice(0, start).filter((o) => o.kind !== "+").length + 1;
    const newStart = all.slice(0, start).filter((o) => o.kind !== "-").length + 1;
    const hunk = all.slice(start, end);
    lines.push(`@@ -${oldStart},${hunk.filter((o) => o.kind !== "+").length} +${newStart},${hunk.filter((o) => o.kind !== "-").length} @@`);
    for (const o of hunk) lines.push(o.kind + o.line);
    k = end;
  }
  return lines.join("\n") + "\n";
}
