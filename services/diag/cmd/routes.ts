import { RT_TABLE } from "../../../core/netlink/consts.ts";
import { formatTable } from "../../../core/format/table.ts";
import { parseOutput, withRtnl } from "../output.ts";

const SUMMARY = "Routes of every table but the kernel's local one: destination, gateway, link, metric, table, protocol.";
const PROTOS: Record<number, string> = { 2: "kernel", 3: "boot", 4: "static", 9: "ra", 16: "dhcp" };

export async function run(argv: string[]): Promise<number> {
  const fmt = parseOutput("routes", SUMMARY, argv);
  if (typeof fmt === "number") return fmt;
  return withRtnl("routes", async (nl) => {
    const name = new Map((await nl.links()).map((l) => [l.index, l.name]));
    const routes = (await nl.routes(0, 0)).filter((r) => r.table !== RT_TABLE.LOCAL)
      .map((r) => ({ ...r, link: r.oif !== undefined ? name.get(r.oif) ?? `#${r.oif}` : undefined }));
    if (fmt === "json") return void console.log(JSON.stringify(routes, null, 2));
    console.log(formatTable(["DESTINATION", "GATEWAY", "LINK", "METRIC", "TABLE", "PROTOCOL"], routes.map((r) => [
      r.dst, r.gateway ?? "", r.link ?? "", String(r.priority ?? 0), r.table === RT_TABLE.MAIN ? "main" : String(r.table), PROTOS[r.protocol] ?? String(r.protocol),
    ])));
  });
}
