/** What `poweroff`, `reboot` and `shutdown` share: ask init over its local socket. */
import { MachineService } from "../../../core/api/gen/services.ts";
import { initClient } from "./client.ts";
import { DEFAULT_NODE_SOCKET } from "./errors.ts";

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
