/**
 * How big one request message of each RPC may be, on apid and on init's socket. Every request of
 * the API is a handful of names and numbers, except ApplyConfiguration (a whole config document)
 * and the internal ResourcePublisher (a service's resources of one kind): a small limit for all
 * the others keeps what a caller can make a server hold per stream small, authorised or not.
 */
import { MachineService, ResourcePublisher } from "./gen/services.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

/** The limit of every RPC not named below. */
export const DEFAULT_REQUEST_BYTES = 64 * KiB;

/** RPCs whose requests carry documents: their own limits. */
export const REQUEST_BYTES: ReadonlyMap<string, number> = new Map([
  [MachineService.ApplyConfiguration.path, 4 * MiB],
  [ResourcePublisher.Put.path, 1 * MiB],
  // A piece of an etcd snapshot (1 MiB of data and its few bytes of framing).
  [MachineService.EtcdRecoverUpload.path, 1 * MiB + KiB],
  [ResourcePublisher.Replace.path, 1 * MiB],
]);

/** The largest request message accepted for an RPC path. */
export function requestLimit(path: string): number {
  return REQUEST_BYTES.get(path) ?? DEFAULT_REQUEST_BYTES;
}
