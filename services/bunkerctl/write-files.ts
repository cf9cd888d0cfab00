/** How every `gen` command writes: all outputs checked before any is written, 0600 by default. */
import { existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { writeFileAtomic } from "../../core/fileio/atomic.ts";

export interface OutputFile {
  path: string;
  content: string;
  mode?: number;
}

/**
 * Writes the files, or none of them when any exists and `force` is not set (then the error names
 * every file in the way). Prints "wrote PATH" per file.
 */
export function writeNewFiles(files: OutputFile[], force: boolean): void {
  const existing = files.map((f) => f.path).filter((p) => existsSync(p));
  if (existing.length && !force) {
    throw new Error(`${existing.join(", ")} already exist${existing.length === 1 ? "s" : ""}; nothing was written (use --force to replace)`);
  }
  for (const f of files) {
    mkdirSync(dirname(f.path), { recursive: true });
    writeFileAtomic(f.path, f.content, { mode: f.mode ?? 0o600, overwrite: force });
    console.log(`wrote ${f.path}`);
  }
}
