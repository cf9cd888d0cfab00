/**
 * Streamed output (logs, dmesg, events): every node's stream at once, each line prefixed with
 * its node when there are several; -o json prints one JSON object per line (with "node").
 */
import type { Destination } from "./api.ts";
import type { Format } from "./output.ts";
import type { Remote } from "./remote.ts";

export async function streamFromNodes<T extends object>(
  r: Remote, format: Format, open: (d: Destination) => AsyncIterable<T>, text: (item: T) => string,
): Promise<number> {
  const prefix = r.dests.length > 1;
  const { exit } = await r.each(async (d) => {
    for await (const item of open(d)) {
      if (format === "table") console.log(prefix ? `${d.label}: ${text(item)}` : text(item));
      else console.log(JSON.stringify({ node: d.label, ...item }));
    }
  });
  return exit;
}

/** --tail N: a whole number, or -1 for everything kept. */
export function parseTail(v: string | undefined, fallback: number): number | string {
  if (v === undefined) return fallback;
  const n = Number(v);
  return Number.isInteger(n) && n >= -1 ? n : `--tail ${v}: expected a whole number (-1 for all)`;
}
