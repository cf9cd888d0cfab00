/** A client of init's local socket, for the power personalities, diagnostics and tests. */
import { ResourceService } from "../../../core/api/gen/services.ts";
import { GrpcClient } from "../../../core/grpc/client.ts";

export function initClient(path: string): GrpcClient {
  return GrpcClient.unix(path);
}

/** The spec of one resource (type or alias, id), decoded from its JSON; undefined when absent. */
export async function getSpec<T>(c: GrpcClient, type: string, id: string, namespace = ""): Promise<T | undefined> {
  try {
    const r = await c.unary(ResourceService.Get, { type, id, namespace });
    return JSON.parse(r.resource?.specJson ?? "null") as T;
  } catch (err) {
    if ((err as { code?: number }).code === 5) return undefined; // NOT_FOUND
    throw err;
  }
}
