import { MachineService as M } from "../../../core/api/gen/services.ts";
import { listFromNodes } from "../client/listing.ts";
import { CONNECT_HELP, FORMAT_OPTION, formatOption, OUTPUT_HELP, runRemote } from "../client/remote.ts";

const HELP = `Usage: bunkerctl netstat [-l|-c] [-t] [-u] [-w] [-4|-6] [-p] [-o table|json|yaml] [connection flags]

Lists each node's sockets from /proc/net: protocol, local and remote address, state, queues.

Options:
  -l, --listening              only listening sockets
  -c, --connected              only connected sockets
  -t, --tcp / -u, --udp / -w, --raw   only these protocols (default all)
  -4, --ipv4 / -6, --ipv6      only this address family (default both)
  -p, --pid                    show the owning process (the node walks /proc/*/fd: slower)
${OUTPUT_HELP}

${CONNECT_HELP}

Example:
  bunkerctl netstat -lt -p`;

export function run(argv: string[]): Promise<number> {
  const options = {
    ...FORMAT_OPTION, listening: { type: "boolean", short: "l" }, connected: { type: "boolean", short: "c" },
    tcp: { type: "boolean", short: "t" }, udp: { type: "boolean", short: "u" }, raw: { type: "boolean", short: "w" },
    ipv4: { type: "boolean", short: "4" }, ipv6: { type: "boolean", short: "6" }, pid: { type: "boolean", short: "p" },
  } as const;
  return runRemote(argv, HELP, options, [0, 0], async (a, r) => {
    const v = a.values;
    const format = formatOption(v.output, HELP, ["table", "json", "yaml"]);
    if (typeof format === "number") return format;
    const kinds = [v.tcp && "tcp", v.udp && "udp", v.raw && "raw"].filter((k): k is string => !!k);
    const families = v.ipv4 && !v.ipv6 ? [""] : v.ipv6 && !v.ipv4 ? ["6"] : ["", "6"];
    const protocols = kinds.length || families.length === 1 ? (kinds.length ? kinds : ["tcp", "udp", "raw"]).flatMap((k) => families.map((f) => k + f)) : [];
    const filter = v.listening ? 1 : v.connected ? 2 : 0;
    const addr = (ip: string | null | undefined, port: number | null | undefined) => `${(ip ?? "").includes(":") ? `[${ip}]` : ip}:${port || "*"}`;
    return listFromNodes(r, format, async (d) => (await r.api.unary(M.Netstat, { filter, protocols, pid: v.pid === true }, d)).records ?? [], [
      ["PROTO", (c) => c.protocol ?? ""], ["RECV-Q", (c) => String(c.rxQueue ?? 0)], ["SEND-Q", (c) => String(c.txQueue ?? 0)],
      ["LOCAL", (c) => addr(c.localIp, c.localPort)], ["REMOTE", (c) => addr(c.remoteIp, c.remotePort)], ["STATE", (c) => c.state ?? ""],
      ...(v.pid ? [["PID/PROGRAM", (c: { pid?: number | null; process?: string | null }) => (c.pid ? `${c.pid}${c.process ? `/${c.process}` : ""}` : "-")] as [string, (c: object) => string]] : []),
    ]);
  });
}
