/**
 * The dashboard on a terminal: raw keys in, the screen out, the terminal given back as it was.
 * The same for a workstation's terminal (`bunkerctl dashboard`), a terminal in container mode and
 * the node's tty1. A terminal that does not say its size (a serial line) is taken as 80x25, the
 * size of a VGA text console and of most serial consoles.
 */
import type { ReadStream, WriteStream } from "node:tty";
import { Dashboard, ENTER, LEAVE, type DashboardOptions } from "./app.ts";

export const FALLBACK_SIZE = { cols: 80, rows: 25 };

export async function runOnTerminal(input: ReadStream, output: WriteStream, o: Omit<DashboardOptions, "screen">): Promise<void> {
  const dash = new Dashboard({
    ...o,
    screen: {
      write: (text) => void output.write(text),
      size: () => (output.columns > 0 && output.rows > 0 ? { cols: output.columns, rows: output.rows } : FALLBACK_SIZE),
    },
  });
  const raw = input.isTTY === true;
  if (raw) input.setRawMode(true);
  output.write(ENTER);
  const onResize = () => dash.invalidate();
  output.on("resize", onResize);
  const done = dash.run();
  const onData = (b: Buffer) => void dash.key(b.toString("latin1"));
  input.on("data", onData);
  input.resume();
  try {
    // A refresh in flight (a node slow to answer) does not hold the quit back.
    await Promise.race([done, dash.quitted]);
  } finally {
    input.off("data", onData);
    output.off("resize", onResize);
    if (raw) input.setRawMode(false);
    input.pause();
    output.write(LEAVE);
  }
}
