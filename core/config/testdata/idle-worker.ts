/** The config checker on a node too busy to run it: each document waits 1.5 s off the CPU first. */
import "../parse-worker.ts";

declare const self: Worker;
const check = self.onmessage!;
self.onmessage = (e) => {
  Bun.sleepSync(1500);
  check.call(self, e);
};
