/** What `poweroff`, `reboot` and `shutdown` share: ask init over its local socket. */
import { MachineService } from "../../../core/api/gen/services.ts";
import { initClient } from "./client.ts";
import { DEFAULT_NODE_SOCKET } from "./socket.ts";
import { parseCli } from "../../cli.ts";

export async function powerCommand(name: string, method: "reboot" | "shutdown", argv: string[]): Promise<number> {
  const help = `Usage: ${name} [--socket PATH]

Asks init to ${method === "reboot" ? "reboot" : "power off"} the machine: services stop in reverse dependency
order, filesystems are synced and unmounted. The socket defaults to ${DEFAULT_NODE_SOCKET}
(or $BUNKER_INIT_SOCKET).`;
  const a = parseCli(name, argv, help, { socket: { type: "string" } });
  if (typeof a === "number") return a;
  const path = a.values.socket ?? process.env.BUNKER_INIT_SOCKET ?? DEFAULT_NODE_SOCKET;
  const c = initClient(path);
  try {
    if (method === "reboot") await c.unary(MachineService.Reboot, {}, { timeoutMs: 30_000 });
    else await c.unary(MachineService.Shutdown, {}, { timeoutMs: 30_000 });
    console.log(`${name}: ${method} accepted`);
    return 0;
  } catch (err) {
    console.error(`${name}: init at ${path}: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    c.close();
  }
}
