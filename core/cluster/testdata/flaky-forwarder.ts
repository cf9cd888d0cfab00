/**
 * Stands in for `bunker bunkerctl cluster forward --netns NS --map PORT=ADDR:PORT ...`: ends at
 * once, as a forwarder whose port was taken does, as long as the file FAILS_LEFT (in the folder
 * given as the first argument) holds a number above 0 (one less each time); then listens on each
 * mapped port until killed.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [dir, ...args] = process.argv.slice(2);
const counter = join(dir!, "FAILS_LEFT");
const left = existsSync(counter) ? Number(readFileSync(counter, "utf8")) : 0;
const ports = args.flatMap((a, i) => (args[i - 1] === "--map" ? [Number(a.split("=")[0])] : []));
if (left > 0) {
  writeFileSync(counter, String(left - 1));
  console.error(`forward: listen on 127.0.0.1:${ports[0]}: EADDRINUSE`);
  process.exit(1);
}
for (const port of ports) Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } });
console.error(`forward: listening on ${ports.join(", ")}`);
