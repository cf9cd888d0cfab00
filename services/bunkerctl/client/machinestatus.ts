/**
 * Waiting on a node's MachineStatus resource (runtime/MachineStatuses, id "machine"): what
 * `health` and `reboot --wait` watch. Polling, not a Watch stream, so a node that goes away and
 * comes back (a reboot) is simply asked again.
 */
import { ResourceService as R } from "../../../core/api/gen/services.ts";
import { GrpcError, Status } from "../../../core/grpc/status.ts";
import type { Api, Destination } from "./api.ts";
import { WaitTimeout } from "./errors.ts";

export interface MachineStatus {
  stage: string;
  ready: boolean;
  unmetConditions: { name: string; reason: string }[];
  /** When the store made the resource: a new value means the node started again. */
  created: number;
}

export const MACHINE_STATUS = { namespace: "runtime", type: "MachineStatuses.runtime.bunker.dev", id: "machine" };

export async function machineStatus(api: Api, d: Destination, timeoutMs: number): Promise<MachineStatus> {
  const res = await api.unary(R.Get, MACHINE_STATUS, d, { timeoutMs });
  const spec = JSON.parse(res.resource?.specJson ?? "{}") as Partial<MachineStatus>;
  return { stage: spec.stage ?? "?", ready: spec.ready === true, unmetConditions: spec.unmetConditions ?? [], created: Number(res.resource?.metadata?.created ?? 0) };
}

/** One line of progress: "booting: network (no address yet), time (not synced)". */
export function describe(s: MachineStatus): string {
  if (s.ready) return `${s.stage}: ready`;
  return `${s.stage}: waiting for ${s.unmetConditions.map((u) => `${u.name}${u.reason ? ` (${u.reason})` : ""}`).join(", ") || "conditions"}`;
}

/** Errors that end a wait at once: retrying will not change who we are or what we may do. */
export function fatalWhileWaiting(err: unknown): boolean {
  return err instanceof GrpcError && [Status.PERMISSION_DENIED, Status.UNAUTHENTICATED, Status.NOT_FOUND, Status.UNIMPLEMENTED, Status.INVALID_ARGUMENT].includes(err.code as 7);
}

/**
 * Polls until `done(status)` holds, calling `progress` whenever the line changes (also for
 * errors while the node is away). Throws WaitTimeout with the last state at the deadline.
 */
export async function waitFor(
  api: Api, d: Destination, deadline: number, done: (s: MachineStatus) => boolean, progress: (line: string) => void,
  say: (s: MachineStatus) => string = describe,
): Promise<MachineStatus> {
  let last = "";
  const started = Date.now();
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) throw new WaitTimeout(`gave up after ${((Date.now() - started) / 1000).toFixed(1)} s (--wait-timeout); last seen: ${last || "nothing"}`);
    let line: string;
    try {
      const s = await machineStatus(api, d, Math.min(left, 5000));
      if (done(s)) return s;
      line = say(s);
    } catch (e) {
      if (fatalWhileWaiting(e)) throw e;
      line = `not answering (${e instanceof GrpcError ? e.details.replace(/^.*caused by: /, "").replace(/\)$/, "") : (e as Error).message})`;
    }
    if (line !== last) progress(line);
    last = line;
    await Bun.sleep(Math.min(500, Math.max(0, deadline - Date.now())));
  }
}

/**
 * After a reboot was asked for: polls until the node runs a boot other than `before` (the
 * MachineStatus creation time seen first) and is ready (or, with `booted`, has finished its boot
 * sequence: running or maintenance, whatever its conditions), printing each change as LABEL: LINE.
 */
export function waitForNewBoot(api: Api, d: Destination, before: number, waitMs: number, until: "ready" | "booted" = "ready"): Promise<MachineStatus> {
  const done = (x: MachineStatus) => x.created !== before && (until === "ready" ? x.ready : x.stage === "running" || x.stage === "maintenance");
  return waitFor(api, d, Date.now() + waitMs, done, (line) => console.log(`${d.label}: ${line}`),
    (x) => (x.created === before ? `${x.stage}: going down` : describe(x)));
}
