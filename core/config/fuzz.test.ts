/**
 * A bounded, seeded fuzz of the loader: thousands of mutations of the valid samples, at the text
 * level (delete, swap, duplicate, re-indent lines, insert junk, truncate) and at the value level
 * (delete a key, change a value's type, add a key). Whatever the input, loadConfig returns;
 * every problem names a path and a position inside the file.
 */
import { expect, test } from "bun:test";
import { isMap, isScalar, isSeq, parseDocument, type Node } from "yaml";
import { loadConfig, type Problem } from "./config.ts";
import { fixture } from "./testdata/fixtures.ts";

const SAMPLES = [fixture("controlplane.yaml"), fixture("worker.yaml")];
const ROUNDS = 3000;

function prng(seed: number) {
  // mulberry32: small, fast, and the same sequence on every machine.
  return (n: number) => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (((t ^ (t >>> 14)) >>> 0) % n);
  };
}
type Rand = ReturnType<typeof prng>;

const JUNK = ["\t", ":", "- ", "[", "]", "{", "}", "&a ", "*a", "!!binary ", "'", '"', "\n", "#", "---\n", "? ", "|", ">", "%", "@", "`", "\u0000", "\uFEFF", "é", "0o777", "-1", "1e999", "~", "<<: *a", "  ", "\r\n"];

function mutateText(text: string, r: Rand): string {
  const lines = text.split("\n");
  const i = r(lines.length), j = r(lines.length);
  switch (r(7)) {
    case 0: lines.splice(i, 1); return lines.join("\n");
    case 1: [lines[i], lines[j]] = [lines[j]!, lines[i]!]; return lines.join("\n");
    case 2: lines.splice(i, 0, lines[j]!); return lines.join("\n");
    case 3: lines[i] = " ".repeat(r(5)) + lines[i]!.trimStart(); return lines.join("\n");
    case 4: { const at = r(text.length + 1); return text.slice(0, at) + JUNK[r(JUNK.length)] + text.slice(at); }
    case 5: return text.slice(0, r(text.length + 1));
    default: { const at = r(text.length); return text.slice(0, at) + text.slice(at + 1 + r(8)); }
  }
}

const REPLACEMENTS: unknown[] = [null, 0, -1, 1.5, 70000, "", "x", "yes", true, [], ["a"], {}, { a: 1 }, "10.0.0.1/33", "/etc/passwd"];

/** All map entries and list items of the document, as (parent, key) pairs. */
function slots(node: Node | null, out: [Node, unknown][] = []): [Node, unknown][] {
  if (isMap(node)) for (const p of node.items) { out.push([node, (p.key as Node & { value: unknown }).value]); slots(p.value as Node, out); }
  else if (isSeq(node)) node.items.forEach((x, i) => { out.push([node, i]); slots(x as Node, out); });
  return out;
}

function mutateValue(text: string, r: Rand): string {
  const doc = parseDocument(text);
  const all = slots(doc.contents as Node);
  const [parent, key] = all[r(all.length)]!;
  const kind = r(3);
  if (kind === 0) (parent as unknown as { delete(k: unknown): void }).delete(key);
  else if (kind === 1) (parent as unknown as { set(k: unknown, v: unknown): void }).set(key, doc.createNode(REPLACEMENTS[r(REPLACEMENTS.length)]));
  else if (isMap(parent)) parent.set(["extra", "mtuu", "adresses", "__proto__", "constructor"][r(5)], 1);
  else if (isSeq(parent)) parent.add(doc.createNode(REPLACEMENTS[r(REPLACEMENTS.length)]));
  return doc.toString();
}

function checkProblems(text: string, list: Problem[]) {
  const lines = text.split(/\r\n|\n|\r/).length;
  for (const p of list) {
    if (!(typeof p.path === "string" && p.path.length > 0 && p.line >= 1 && p.line <= lines + 1 && p.column >= 1 && p.message.length > 0)) {
      throw new Error(`bad problem ${JSON.stringify(p)} for input:\n${text}`);
    }
  }
}

test(`the loader survives ${ROUNDS} seeded mutations and every rejection names a path and a position`, () => {
  const r = prng(20261125);
  let rejected = 0, accepted = 0;
  for (let round = 0; round < ROUNDS; round++) {
    let text = SAMPLES[r(SAMPLES.length)]!;
    // One to three mutations, mixing both levels; a value mutation needs text that still parses.
    for (let k = 1 + r(3); k > 0; k--) {
      if (r(2) === 0) text = mutateText(text, r);
      else {
        try { text = mutateValue(text, r); } catch { text = mutateText(text, r); }
      }
    }
    let result;
    try {
      result = loadConfig(text, { mode: (["metal", "qemu", "container"] as const)[r(3)] });
    } catch (e) {
      throw new Error(`loadConfig threw ${(e as Error).stack} for input:\n${text}`);
    }
    checkProblems(text, result.errors);
    checkProblems(text, result.warnings);
    if (result.config) { accepted++; expect(result.errors).toEqual([]); }
    else { rejected++; expect(result.errors.length).toBeGreaterThan(0); }
  }
  // Both outcomes must occur, or the mutations are not testing what they claim.
  expect(rejected).toBeGreaterThan(ROUNDS / 2);
  expect(accepted).toBeGreaterThan(10);
}, 120_000);
