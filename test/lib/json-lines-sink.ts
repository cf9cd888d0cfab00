/**
 * A TCP listener on 127.0.0.1 that parses what it receives as JSON lines (log shipping's wire
 * format): a test reads `records` as they come. close() also ends the connections it accepted
 * (closing a server alone leaves them open), so a test can make the peer go away.
 */
import { createServer, type Socket } from "node:net";
import { eventually } from "./eventually.ts";

export interface JsonLinesSink { records: any[]; close(): Promise<void> }

export async function tcpJsonSink(port: number): Promise<JsonLinesSink> {
  const records: any[] = [];
  const conns = new Set<Socket>();
  const server = createServer((c) => {
    conns.add(c);
    let buf = "";
    c.on("data", (d) => {
      buf += d.toString();
      const lines = buf.split("\n");
      buf = lines.pop()!;
      for (const l of lines) records.push(JSON.parse(l));
    });
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
  return { records, close: () => new Promise<void>((r) => { for (const c of conns) c.destroy(); server.close(() => r()); }) };
}

/** Polls `check` until it holds; throws naming `what` after `ms` (bounded: a loaded machine is slow, not stuck). */
export async function until(what: string, check: () => boolean, ms = 20_000): Promise<void> {
  if (!(await eventually(check, ms))) throw new Error(`not within ${ms} ms: ${what}`);
}
