import { ResourceService as R } from "../../../core/api/gen/services.ts";
import { GrpcError, Status } from "../../../core/grpc/status.ts";
import { TIME_STATUS, type TimeStatusSpec } from "../../../core/netresources/kinds.ts";
import { querySntp } from "../../../core/sntp/client.ts";
import { listFromNodes } from "../client/listing.ts";
import { CONNECT_HELP, FORMAT_OPTION, formatOption, OUTPUT_HELP, runRemote } from "../client/remote.ts";

const HELP = `Usage: bunkerctl time [--no-client-check] [-o table|json|yaml] [connection flags]

Shows each node's clock against its time server, and against this client's: whether it is
synced, the server it last synced from, the offset it measured then (server minus node, before
it stepped or slewed its clock to follow), when that was (by this client's clock), and what this
client measures now against the same server (CLIENT-OFFSET, server minus client). A synced node
keeps its clock at its server's, so CLIENT-OFFSET is also about how far the node's clock is from
this client's. The client asks each server once, over SNTP (UDP 123 unless the server names a
port); a server it cannot reach shows why.

Options:
  --no-client-check            do not ask the time servers from this client
${OUTPUT_HELP}

${CONNECT_HELP}

Example:
  bunkerctl time -n 10.5.0.2,10.5.0.3`;

interface Row extends TimeStatusSpec {
  clientOffsetMs?: number;
  clientError?: string;
}

const ms = (v: number | undefined) => (v === undefined ? "-" : `${v >= 0 ? "+" : ""}${v.toFixed(1)}ms`);

/** "12s ago" by this client's clock; a time ahead of it says so (the node's clock is ahead). */
function age(iso: string | undefined, now: number): string {
  if (!iso) return "-";
  const d = Math.round((now - Date.parse(iso)) / 1000);
  if (Number.isNaN(d)) return iso;
  return d >= 0 ? `${d}s ago` : `${-d}s ahead of this client`;
}

export function run(argv: string[]): Promise<number> {
  return runRemote(argv, HELP, { ...FORMAT_OPTION, "no-client-check": { type: "boolean" } }, [0, 0], async (a, r) => {
    const format = formatOption(a.values.output, HELP, ["table", "json", "yaml"]);
    if (typeof format === "number") return format;
    // One SNTP query per server, however many nodes use it.
    const asked = new Map<string, Promise<{ offsetMs?: number; error?: string }>>();
    const clientView = (server: string) => {
      if (!asked.has(server)) asked.set(server, querySntp(server).then((s) => ({ offsetMs: s.offsetMs }), (e: Error) => ({ error: e.message })));
      return asked.get(server)!;
    };
    const now = Date.now();
    return listFromNodes<Row>(r, format, async (d) => {
      let spec: TimeStatusSpec;
      try {
        spec = JSON.parse((await r.api.unary(R.Get, TIME_STATUS, d)).resource?.specJson || "{}") as TimeStatusSpec;
      } catch (e) {
        if (e instanceof GrpcError && e.code === Status.NOT_FOUND) throw new Error(`${d.label}: the node publishes no time status: networkd does not run there (container mode) or has not started yet`);
        throw e;
      }
      const row: Row = { ...spec };
      if (spec.server && a.values["no-client-check"] !== true) {
        const v = await clientView(spec.server);
        if (v.offsetMs !== undefined) row.clientOffsetMs = v.offsetMs;
        if (v.error) row.clientError = v.error;
      }
      return [row];
    }, [
      ["SYNCED", (x) => (x.disabled ? "disabled" : x.synced ? "yes" : "no")],
      ["SERVER", (x) => x.server ?? "-"],
      ["OFFSET", (x) => ms(x.offsetMs)],
      ["ACTION", (x) => x.action ?? "-"],
      ["LAST-SYNC", (x) => age(x.lastSync, now)],
      ["CLIENT-OFFSET", (x) => (x.clientError ? `? (${x.clientError})` : ms(x.clientOffsetMs))],
      ["ERROR", (x) => x.lastError || ""],
    ]);
  });
}
