import { afterAll, expect, test } from "bun:test";
import { getEventListeners } from "node:events";
import { closeSync, constants, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readKmsg } from "./kmsg.ts";

const dir = mkdtempSync(join(tmpdir(), "bunker-kmsg-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("following the kernel log for long keeps one abort listener, not one per poll", async () => {
  // A FIFO held open for writing reads like /dev/kmsg: EAGAIN until a record comes.
  const fifo = join(dir, "kmsg");
  Bun.spawnSync(["mkfifo", fifo]);
  const writer = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
  const ac = new AbortController();
  try {
    const it = readKmsg({ path: fifo, follow: true, pollMs: 1, signal: ac.signal })[Symbol.asyncIterator]();
    const next = it.next();
    // A window of many 1 ms polls (however slow the machine) in which listeners must NOT pile up.
    await Bun.sleep(100);
    writeSync(writer, "6,1,1000,-;the record after the polls\n");
    const r = await next;
    expect(r.value?.message).toBe("the record after the polls");
    expect(getEventListeners(ac.signal, "abort").length).toBeLessThanOrEqual(1);
    ac.abort();
    await it.return?.(undefined);
  } finally {
    closeSync(writer);
  }
});
