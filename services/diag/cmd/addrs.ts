import { formatTable } from "../../../core/format/table.ts";
import { parseOutput, withRtnl } from "../output.ts";

const SUMMARY = "IPv4 and IPv6 addresses: link, address/prefix, scope, valid lifetime.";
const SCOPES: Record<number, string> = { 0: "global", 200: "site", 253: "link", 254: "host" };

export async function run(argv: string[]): Promise<number> {
  const fmt = parseOutput("addrs", SUMMARY, argv);
  if (typeof fmt === "number") return fmt;
  return withRtnl("addrs", async (nl) => {
    const name = new Map((await nl.links()).map((l) => [l.index, l.name]));
    const addrs = (await nl.addresses()).map((a) => ({ link: name.get(a.index) ?? `#${a.index}`, ...a }));
    if (fmt === "json") return void console.log(JSON.stringify(addrs, null, 2));
    console.log(formatTable(["LINK", "ADDRESS", "SCOPE", "VALID"], addrs.map((a) => [
      a.link, `${a.address}/${a.prefixLen}`, SCOPES[a.scope] ?? String(a.scope), a.validLifetime === undefined ? "forever" : `${a.validLifetime}s`,
    ])));
  });
}
