/**
 * Our gRPC server for bench/grpc.ts, in its own process: MachineService.Version over mTLS on
 * 127.0.0.1. Prints "PORT n" when listening; exits when stdin closes.
 * Usage: bun bench/grpc-server.ts CA CRT KEY
 */
import { readFileSync } from "node:fs";
import { MachineService as M } from "../core/api/gen/services.ts";
import { GrpcServer } from "../core/grpc/server.ts";
import { BENCH_VERSION } from "./grpc-fixture.ts";

const [ca, crt, key] = process.argv.slice(2).map((p) => readFileSync(p, "utf8"));
const server = new GrpcServer().handle(M.Version, () => BENCH_VERSION);
const addr = await server.listenTls({ host: "127.0.0.1", port: 0, ca, cert: crt!, key: key! });
console.log(`PORT ${addr.port}`);
for await (const _ of Bun.stdin.stream()) { /* until stdin closes */ }
await server.close();
process.exit(0);
