// The reference server for bench/grpc.ts: the same .proto and the same Version answer, served by
// @grpc/grpc-js with @grpc/proto-loader, under Node. Prints "PORT n"; exits when stdin closes.
// Usage: node bench/grpc-js-server.mjs CA CRT KEY
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(join(root, "package.json"));
const grpc = require("@grpc/grpc-js");
const loader = require("@grpc/proto-loader");

const def = loader.loadSync("bunker/machine/v1/machine.proto", { includeDirs: [join(root, "core/api/proto")], keepCase: false, longs: Number });
const pkg = grpc.loadPackageDefinition(def);
// Same content as bench/grpc-fixture.ts (kept literal: this file runs under Node, not Bun).
const version = {
  version: "0.1.0", commit: "0123456789ab", built: "2026-01-01T00:00:00.000Z", bunVersion: "1.4.5",
  arch: "x64", kernel: "6.1.0", maintenance: false, hostname: "bench-node",
};
const [ca, crt, key] = process.argv.slice(2).map((p) => readFileSync(p));
const server = new grpc.Server();
server.addService(pkg.bunker.machine.v1.MachineService.service, { Version: (_call, cb) => cb(null, version) });
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createSsl(ca, [{ private_key: key, cert_chain: crt }], true), (err, port) => {
  if (err) { console.error(err.message); process.exit(1); }
  console.log(`PORT ${port}`);
});
process.stdin.on("data", () => {});
process.stdin.on("end", () => server.tryShutdown(() => process.exit(0)));
