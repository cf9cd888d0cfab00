/**
 * `dashboard`: the node's state on its own screen. On a node init runs it on tty1 (uid 53,
 * reading through init's socket with the os:reader role); in container mode run
 * `bunker dashboard --socket DIR/init.sock` in a terminal. `bunkerctl dashboard` shows the same
 * screen from a workstation through the API.
 */
import { openSync } from "node:fs";
import { ReadStream, WriteStream } from "node:tty";
import { parseArgs } from "node:util";
import { GrpcClient } from "../../core/grpc/client.ts";
import { parseDuration } from "../bunkerctl/client/output.ts";
import { DEFAULT_NODE_SOCKET } from "../init/api/socket.ts";
import { wantColor } from "./render.ts";
import { clientCaller } from "./source.ts";
import { runOnTerminal } from "./terminal.ts";

const HELP = `Usage: dashboard [--socket PATH] [--tty DEVICE] [--interval DURATION] [--log SOURCE] [--no-color]

Shows this node on a terminal, refreshed: hostname, version, stage and readiness (with the
conditions not met), addresses and routes, CPU, memory and load, the services with state and
health, and a log pane. Keys: l or Tab / L switch the log pane (kernel, then each service),
Ctrl-L redraws, q quits (not with --tty: there init owns it).

Options:
  --socket PATH        init's socket (default $BUNKER_INIT_SOCKET, else ${DEFAULT_NODE_SOCKET})
  --tty DEVICE         draw on this terminal device (init passes /dev/tty1 on a node); default:
                       this process's terminal
  --interval DURATION  time between refreshes (default 2s)
  --log SOURCE         the log pane's first source: kernel (default) or a service id
  --no-color           no colours (also with NO_COLOR set, or TERM dumb or unset)`;

export async function main(argv: string[]): Promise<number> {
  let v: { socket?: string; tty?: string; interval?: string; log?: string; "no-color"?: boolean; help?: boolean };
  try {
    v = parseArgs({
      args: argv, strict: true, allowPositionals: false,
      options: { socket: { type: "string" }, tty: { type: "string" }, interval: { type: "string" }, log: { type: "string" }, "no-color": { type: "boolean" }, help: { type: "boolean", short: "h" } },
    }).values;
  } catch (e) {
    console.error(`dashboard: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (v.help) {
    console.log(HELP);
    return 0;
  }
  const intervalMs = v.interval === undefined ? 2000 : parseDuration(v.interval);
  if (intervalMs === undefined || intervalMs <= 0) {
    console.error(`dashboard: --interval ${v.interval}: expected a duration such as 2s or 500ms`);
    return 2;
  }
  let input: ReadStream;
  let output: WriteStream;
  if (v.tty !== undefined) {
    let fd: number;
    try {
      fd = openSync(v.tty, "r+");
    } catch (e) {
      console.error(`dashboard: cannot open --tty ${v.tty}: ${(e as Error).message}`);
      return 1;
    }
    input = new ReadStream(fd);
    output = new WriteStream(fd);
  } else {
    if (!process.stdin.isTTY || !process.stdout.isTTY) {
      console.error("dashboard: needs a terminal (run it in one, or give --tty DEVICE)");
      return 2;
    }
    input = process.stdin as ReadStream;
    output = process.stdout as WriteStream;
  }
  // init starts services with an empty environment: a virtual console (tty1) is a Linux console,
  // which has the colours; a serial line's terminal is unknown, so it gets none.
  const term = process.env.TERM ?? (v.tty !== undefined && /^\/dev\/tty\d+$/.test(v.tty) ? "linux" : undefined);
  const color = v["no-color"] !== true && wantColor({ ...process.env, TERM: term });
  const socket = v.socket ?? process.env.BUNKER_INIT_SOCKET ?? DEFAULT_NODE_SOCKET;
  const client = GrpcClient.unix(socket);
  try {
    await runOnTerminal(input, output, {
      nodes: ["this node"], caller: () => clientCaller(client), color, intervalMs, // init's own socket: a slow answer is a busy node (or an emulated one), not a lost network.
      timeoutMs: Math.max(15_000, intervalMs),
      log: v.log, fullRedrawEvery: v.tty !== undefined ? 15 : 0, canQuit: v.tty === undefined,
    });
  } finally {
    client.close();
  }
  return 0;
}
