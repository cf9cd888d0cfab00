/**
 * Hostile machine configs at the size cap (MAX_CONFIG_BYTES): the shapes that cost the loader the
 * most, each filled up to just under the cap. Shared by bench/config.ts and the security tests.
 */
import { MAX_CONFIG_BYTES } from "../core/config/config.ts";

/** Repeats `item` (joined by `sep`) between `head` and `tail` until the text is just under the cap. */
function fill(head: string, item: (i: number) => string, sep: string, tail: string): string {
  const parts: string[] = [];
  let size = head.length + tail.length;
  for (let i = 0; ; i++) {
    const p = item(i);
    if (size + p.length + sep.length > MAX_CONFIG_BYTES) break;
    parts.push(p);
    size += p.length + sep.length;
  }
  return head + parts.join(sep) + tail;
}

export const hostileConfigs: Record<string, () => string> = {
  "flow list of short scalars": () => fill("a: [", () => "1", ",", "]\n"),
  "flow list of anchored scalars": () => fill("a: [", (i) => `&a${i} 1`, ",", "]\n"),
  "aliases over one complex key": () => {
    const half = Math.floor(MAX_CONFIG_BYTES / 2);
    const key = `? [${Array(Math.floor(half / 2) - 4).fill("1").join(",")}]\n: v\n`;
    return fill(`a: &a x\n${key}b: [`, () => "*a", ",", "]\n");
  },
  "aliases to one big anchor (bomb)": () => `a: &a [${Array(20_000).fill("1").join(",")}]\n` + fill("b: [", () => "*a", ",", "]\n").slice(0, MAX_CONFIG_BYTES - 40_010),
  "flow maps in a block list": () => fill("machine:\n  x:\n", () => "  - {a: 1}", "\n", "\n"),
  "unknown keys under machine": () => fill("version: v1alpha1\nmachine:\n", (i) => `  unknownkeyname${i}xxxxxxxxxxxxxxxxx: 1`, "\n", "\n"),
  "duplicate keys": () => fill("", () => "a: 1", "\n", "\n"),
  "a syntax error per line": () => fill("", () => "a: b: c", "\n", "\n"),
  "deep flow nesting": () => "[".repeat(MAX_CONFIG_BYTES / 2 - 1) + "]".repeat(MAX_CONFIG_BYTES / 2 - 1),
  "one long plain scalar over many lines": () => fill("a: ", () => "word", "\n  ", "\n"),
  "comment lines": () => fill("", () => "# comment", "\n", "\n"),
};
