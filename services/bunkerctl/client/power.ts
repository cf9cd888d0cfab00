/**
 * Power actions (reboot, shutdown, reset) answer first, then act; but the node may take its API
 * down before the answer has crossed apid. A connection that closes during such a call, after
 * the node accepted who we are, is then the action happening, not a failure.
 */
import { REASON } from "../../../core/errors.ts";
import { closedDuringCall, GrpcError, reasonOf, Status } from "../../../core/grpc/status.ts";

/** The call's answer, or "closed" when the node went away during it. */
export async function powerCall<T>(call: () => Promise<T>): Promise<T | "closed"> {
  try {
    return await call();
  } catch (e) {
    // Our connection to apid closed, or apid's to init did (its reason says so).
    if (closedDuringCall(e) || (e instanceof GrpcError && e.code === Status.UNAVAILABLE && reasonOf(e) === REASON.closed)) return "closed";
    throw e;
  }
}

/** What to print after the action's verb. */
export const closedNote = (r: unknown): string => (r === "closed" ? " (the node closed the connection as it went down)" : "");
