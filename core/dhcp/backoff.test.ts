/** Retransmission timing of the client, through a transport that never answers. */
import { expect, test } from "bun:test";
import { DhcpClient } from "./client.ts";
import { decodePacket, messageType, MSG } from "./packet.ts";
import type { DhcpTransport } from "./transport.ts";

class Silent implements DhcpTransport {
  sends: { at: number; type: number | undefined; xid: number }[] = [];
  private wake: (() => void) | null = null;
  send(pkt: Uint8Array): void {
    const p = decodePacket(pkt);
    this.sends.push({ at: performance.now(), type: messageType(p), xid: p.xid });
  }
  recv(ms: number): Promise<Uint8Array | null> {
    return new Promise((r) => {
      const t = setTimeout(() => r(null), ms);
      this.wake = () => { clearTimeout(t); r(null); };
    });
  }
  interrupt(): void { this.wake?.(); }
  async close(): Promise<void> {}
}

test("DISCOVER is retransmitted with doubling waits, a bounded number of times, then the client pauses", async () => {
  const t = new Silent();
  const c = new DhcpClient({ ifname: "x0", mac: Uint8Array.of(2, 0, 0, 0, 0, 9), transport: t, onChange: () => {}, initialTimeoutMs: 100, maxTimeoutMs: 400, maxAttempts: 5, idleMs: 60000 });
  c.start();
  const deadline = Date.now() + 10000;
  while (t.sends.length < 5 && Date.now() < deadline) await Bun.sleep(20);
  // Past the fifth wait (at most 400 + 100 ms) nothing more may be sent: the round is over.
  await Bun.sleep(700);
  await c.stop();
  expect(t.sends.length).toBe(5);
  expect(t.sends.every((s) => s.type === MSG.DISCOVER)).toBe(true);
  expect(new Set(t.sends.map((s) => s.xid)).size).toBe(1); // one exchange, one xid
  const gaps = t.sends.slice(1).map((s, i) => s.at - t.sends[i]!.at);
  // 100, 200, 400, 400 (capped), each plus up to 25% jitter.
  expect(gaps.map((g, i) => g >= [100, 200, 400, 400][i]! - 5)).toEqual([true, true, true, true]);
  expect(gaps[1]!).toBeGreaterThan(gaps[0]!);
  expect(gaps[2]!).toBeGreaterThan(gaps[1]!);
  expect(c.state).toBe("stopped");
}, 20000);
