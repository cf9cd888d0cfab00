/**
 * What the install, upgrade, rollback and reset flows share: a scratch folder of their own
 * under the work dir (a tmpfs on a node), and a progress line that goes both to the log and to
 * the events bunkerctl follows.
 */
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EventHistory } from "../events.ts";
import { log } from "../log.ts";

/** A fresh folder under `workDir` (the system's temp dir when unset); the caller removes it. */
export function scratch(workDir: string | undefined, what: string): string {
  const base = workDir ?? tmpdir();
  mkdirSync(base, { recursive: true, mode: 0o700 });
  return mkdtempSync(join(base, `${what}-`));
}

/** Progress of an upgrade, rollback, install or reset: the log, and events of `source` (bunkerctl follows them). */
export function progress(events: EventHistory, source: string): (line: string) => void {
  return (line) => { log.info(`${source}: ${line}`); events.add(source, line); };
}
