/** What `poweroff`, `reboot` and `shutdown` share: ask init over its local socket. */
import { InitClient } from "./client.ts";
import { DEFAULT_NODE_SOCKET } from "./protocol.ts";

export async function powerCommand(name: string, method: "reboot" | "shutdown", argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(`Usage: ${name} [--socket PATH]

Asks init to ${method === "reboot" ? "reboot" : "power off"} the machine: services stop in reverse dependency
order, filesystems are synced and unmounted. The socket defaults to ${DEFAULT_NODE_SOCKET}
(or $BUNKER_INIT_SOCKET).`);
    return 0;
  }
  const i = argv.indexOf("--socket");
  const path = (i >= 0 ? argv[i + 1] : undefined) ?? process.env.BUNKER_INIT_SOCKET ?? DEFAULT_NODE_SOCKET;
  try {
    const c = await InitClient.connect(path);
    try {
      await c.call(method);
    } finally {
      c.close();
    }
    console.log(`${name}: ${method} accepted`);
    return 0;
  } catch (err) {
    console.error(`${name}: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
