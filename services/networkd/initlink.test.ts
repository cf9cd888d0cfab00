import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualClock } from "../../core/time/clock.ts";
import { InitLink } from "./initlink.ts";
import type { NetworkStatus } from "./types.ts";
import { eventually } from "../../test/lib/eventually.ts";

const dir = mkdtempSync(join(tmpdir(), "bunker-initlink-"));
let link: InitLink | undefined;
afterEach(() => link?.close());
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));

/** Waits (bounded) until `ok` holds; the work it waits for is a failed connect, not time. */
async function waitFor(ok: () => boolean, what: string): Promise<void> {
  if (!(await eventually(ok))) throw new Error(`timed out waiting for ${what}`);
}

test("while init does not answer, each publishing retry waits twice as long as the one before, up to 10 s", async () => {
  const clock = new ManualClock();
  const lines: string[] = [];
  // No socket at this path: every round fails at connect.
  link = new InitLink({ socket: join(dir, "absent.sock"), log: (l) => lines.push(l), retryMs: 500, clock });
  link.publish({} as NetworkStatus);
  const waits: number[] = [];
  for (let round = 1; round <= 7; round++) {
    await waitFor(() => lines.length === round && clock.pending().length === 1, `failed round ${round}`);
    waits.push(clock.pending()[0]!);
    expect(lines[round - 1]).toMatch(new RegExp(`^networkd: publishing the status to init: .*; retrying in ${waits.at(-1)} ms$`));
    clock.advance(clock.pending()[0]!);
  }
  expect(waits).toEqual([500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
});
