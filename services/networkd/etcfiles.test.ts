import { expect, test } from "bun:test";
import { resolve } from "node:path";
import { straceSkipReason, syncCalls } from "../../test/lib/durable.ts";

const etcfiles = resolve(import.meta.dir, "etcfiles.ts");

test.skipIf(straceSkipReason !== null)(`resolv.conf and hosts survive a power cut: the directory is fsynced after the rename, and an unchanged file is not rewritten${straceSkipReason ? ` (skipped: ${straceSkipReason})` : ""}`, () => {
  const r = syncCalls(`import { writeAtomic } from ${JSON.stringify(etcfiles)};`, `
    if (!writeAtomic(dir, "hosts", "127.0.0.1\\tlocalhost\\n")) throw new Error("first write reported unchanged");
    if (writeAtomic(dir, "hosts", "127.0.0.1\\tlocalhost\\n")) throw new Error("unchanged file rewritten");`);
  expect(r.calls.filter((c) => c.call === "rename")).toHaveLength(1);
  expect(r.renamesDurable).toBe(true);
});
