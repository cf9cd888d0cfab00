/**
 * Tries one ResourcePublisher.Put on init's socket and prints the outcome ("OK" or
 * "CODE: message"). Tests run it under another uid to show who may publish.
 *   bun test/lib/publish-as.ts SOCKET NAMESPACE TYPE ID SPEC_JSON
 */
import { ResourcePublisher } from "../../core/api/gen/services.ts";
import { GrpcClient } from "../../core/grpc/client.ts";
import { GrpcError, statusName } from "../../core/grpc/status.ts";

const [socket, namespace, type, id, specJson] = process.argv.slice(2);
const c = GrpcClient.unix(socket!);
try {
  await c.unary(ResourcePublisher.Put, { namespace, type, resource: { id, specJson } }, { timeoutMs: 5000 });
  console.log("OK");
} catch (err) {
  console.log(err instanceof GrpcError ? `${statusName(err.code)}: ${err.details}` : `error: ${String(err)}`);
} finally {
  c.close();
}
