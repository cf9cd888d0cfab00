import { formatTable } from "../../../core/format/table.ts";
import { parseOutput, withRtnl } from "../output.ts";

const SUMMARY = "Network links: index, name, kind, admin state, carrier, operational state, MTU, MAC, master.";

export async function run(argv: string[]): Promise<number> {
  const fmt = parseOutput("links", SUMMARY, argv);
  if (typeof fmt === "number") return fmt;
  return withRtnl("links", async (nl) => {
    const links = await nl.links();
    const name = new Map(links.map((l) => [l.index, l.name]));
    if (fmt === "json") return void console.log(JSON.stringify(links, null, 2));
    console.log(formatTable(["INDEX", "NAME", "KIND", "ADMIN", "CARRIER", "OPER", "MTU", "MAC", "MASTER"], links.map((l) => [
      String(l.index), l.name, l.kind ?? (l.hwType === 772 ? "loopback" : "physical"), l.up ? "up" : "down", l.carrier ? "yes" : "no",
      l.operState, String(l.mtu), l.mac, l.master ? name.get(l.master) ?? `#${l.master}` : "",
    ])));
  });
}
