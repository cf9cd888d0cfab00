import type { bunker } from "../../../core/api/gen/api.js";
import { MachineService as M } from "../../../core/api/gen/services.ts";
import { usageError } from "../args.ts";
import { EXIT } from "../client/exitcodes.ts";
import { isoTime, printRecords } from "../client/output.ts";
import { CONNECT_HELP, FORMAT_OPTION, formatOption, OUTPUT_HELP, runRemote } from "../client/remote.ts";

const HELP = `Usage: bunkerctl service ID [status|start|stop|restart] [-o table|json|yaml] [connection flags]

Shows one service (status, the default): state, health, pid, restarts, how its process last
ended (exit code or signal, when, and for an error the last lines it wrote) and its recent events;
or starts, stops or restarts it (os:operator or os:admin).

Options:
${OUTPUT_HELP}

${CONNECT_HELP}

Examples:
  bunkerctl service networkd
  bunkerctl service networkd restart -n 10.5.0.2,10.5.0.3`;

/** "healthy", "unhealthy: why", or "?" when no check ran. */
export function health(h: bunker.machine.v1.IServiceHealth | null | undefined): string {
  if (!h || h.unknown) return "?";
  return h.healthy ? "OK" : `FAIL${h.message ? `: ${h.message}` : ""}`;
}

/** LAST EXIT (code or signal, when) and, for an exit with an error, the last lines it wrote. */
export function lastExit(e: bunker.machine.v1.IServiceExit | null | undefined): string[] {
  if (!e || !e.time) return [];
  const how = e.signal ? `killed by ${e.signal}` : `code ${e.code ?? 0}`;
  const out = e.output ?? [];
  return [`LAST EXIT  ${how} at ${isoTime(Number(e.time))}`, ...(out.length ? ["LAST OUTPUT", ...out.map((l) => `  | ${l}`)] : [])];
}

const ACTIONS = { start: M.ServiceStart, stop: M.ServiceStop, restart: M.ServiceRestart } as const;

export function run(argv: string[]): Promise<number> {
  return runRemote(argv, HELP, { ...FORMAT_OPTION }, [1, 2], async (a, r) => {
    const [id, action = "status"] = a.positionals as [string, string?];
    const format = formatOption(a.values.output, HELP, ["table", "json", "yaml"]);
    if (typeof format === "number") return format;
    if (action !== "status" && !(action in ACTIONS)) return usageError(HELP, `unknown action "${action}" (status, start, stop or restart)`);
    if (action !== "status") {
      const { results, exit } = await r.each((d) => r.api.unary(ACTIONS[action as keyof typeof ACTIONS], { id }, d));
      if (format !== "table") printRecords(format, results.map(({ d, value }) => ({ node: d.label, ...value })), []);
      else for (const { d, value } of results) console.log(`${d.label}: ${value.id}: ${value.message}`);
      return exit;
    }
    const { results, exit } = await r.each(async (d) => {
      const s = ((await r.api.unary(M.ServiceList, {}, d)).services ?? []).find((x) => x.id === id);
      if (!s) throw new Error(`no service "${id}" (\`bunkerctl services\` lists them)`);
      return s;
    });
    if (format !== "table") {
      printRecords(format, results.map(({ d, value }) => ({ node: d.label, ...value })), []);
      return exit;
    }
    for (const { d, value: s } of results) {
      console.log([
        `NODE       ${d.label}`,
        `ID         ${s.id}`,
        `STATE      ${s.state}`,
        `HEALTH     ${health(s.health)}`,
        `PID        ${s.pid || "-"}`,
        `RESTARTS   ${s.restarts ?? 0}`,
        ...lastExit(s.lastExit),
        "EVENTS",
        ...(s.events ?? []).map((e) => `  ${isoTime(Number(e.time))}  ${(e.state ?? "").padEnd(10)} ${e.message ?? ""}`),
      ].join("\n"));
    }
    return results.length === 0 && exit === EXIT.OK ? EXIT.FAILED : exit;
  });
}
